"""The cashier's window (PySide6). It presents; the session and the scanner decide.

Session events and scanner callbacks reach the widgets only as Qt signals (`session.py`,
`camera.py`); `app.py` builds the session, the scanner and this window and wires them.
"""
