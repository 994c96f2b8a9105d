"""The cashier's window (PySide6). It presents; the engine and the scanner decide.

Engine events and scanner callbacks reach the widgets only as Qt signals (`session.py`,
`camera.py`); `app.py` builds the engine, the scanner and this window and wires them.
"""
