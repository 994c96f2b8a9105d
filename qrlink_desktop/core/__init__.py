"""Pure protocol logic: standard library only, no I/O, no event loop."""
