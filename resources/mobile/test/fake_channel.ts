// A data channel for unit tests: what a link sends is kept, what the test delivers arrives.

export class FakeChannel {
  readyState = "open";
  sent: string[] = [];
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: Event) => void) | null = null;
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {
    this.readyState = "closed";
  }
  deliver(data: string): void {
    this.onmessage?.({ data } as MessageEvent);
  }
}
