"""The rendezvous service (specification §5.2): a topic broadcaster and lookup resolver.

One side publishes a bootstrap token under a handle; the other looks it up (or waits for
it with a long poll). Storage is in memory for one process or Redis for several.
Imports the standard library, aiohttp, redis and `qrlink_desktop.core` only.
"""
