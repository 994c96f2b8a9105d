"""The page server: the built mobile page served from memory with its headers and caching
(server.py) and, on the laptop, the inbox for the answers the page sends home (answers.py).

Beside the rendezvous service, not part of it: it imports the standard library, aiohttp
and `qrlink_desktop.core` only. The laptop's window and `qrlink peer offer --serve-page`
run it on the shop's network; the rendezvous service serves the same page through it
(`add_page_routes`), so a phone gets the page and the API from one origin.
"""
