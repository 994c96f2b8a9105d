"""Another client on the shop's network (not the customer's phone): sends answer requests
to the laptop's page server from its own address, and prints one JSON line of results.
Run inside the phone's namespace by tests/mobile/test_one_scan.py.

    answer_client.py URL SOURCE post BODY        {"status": 403, "code": "VERIFICATION_FAILED"}
    answer_client.py URL SOURCE flood N BODY     {"statuses": {"403": 10, "429": 990}, ...}
    answer_client.py URL SOURCE oversize BYTES   {"status": 413, "code": "MESSAGE_TOO_LARGE"}
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from typing import Any

import aiohttp


async def _post(session: aiohttp.ClientSession, url: str, body: bytes) -> dict[str, Any]:
    try:
        async with session.post(
            url, data=body, headers={"Content-Type": "application/json"}
        ) as response:
            try:
                doc = await response.json(content_type=None)
            except ValueError:
                doc = {}
            code = (doc.get("error") or {}).get("code") if isinstance(doc, dict) else None
            return {"status": response.status, "code": code}
    except aiohttp.ClientError as exc:
        return {"status": None, "error": type(exc).__name__}


async def main(argv: list[str]) -> dict[str, Any]:
    url, source, mode, *rest = argv
    connector = aiohttp.TCPConnector(local_addr=(source, 0), limit=64, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if mode == "post":
            return await _post(session, url, rest[0].encode())
        if mode == "oversize":
            return await _post(session, url, b"{" + b" " * int(rest[0]) + b"}")
        if mode == "flood":
            count, body = int(rest[0]), rest[1].encode()
            results = await asyncio.gather(*(_post(session, url, body) for _ in range(count)))
            return {
                "statuses": dict(Counter(str(r["status"]) for r in results)),
                "codes": dict(Counter(str(r.get("code")) for r in results)),
            }
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1:]))), flush=True)
