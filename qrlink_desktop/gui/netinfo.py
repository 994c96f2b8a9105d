"""The default page URL: this laptop's LAN address, which the customer's phone can reach."""

from __future__ import annotations

from PySide6.QtNetwork import QAbstractSocket, QNetworkInterface

PAGE_PORT = 8765


def lan_ipv4() -> str | None:
    """The first IPv4 address of an interface that is up and not loopback.

    Read from the interface list rather than by connecting a socket somewhere: nothing
    leaves the machine to find it out.
    """
    for iface in QNetworkInterface.allInterfaces():
        flags = iface.flags()
        if not (flags & QNetworkInterface.InterfaceFlag.IsUp) or (
            flags & QNetworkInterface.InterfaceFlag.IsLoopBack
        ):
            continue
        for entry in iface.addressEntries():
            ip = entry.ip()
            if ip.protocol() == QAbstractSocket.NetworkLayerProtocol.IPv4Protocol:
                return str(ip.toString())
    return None


def default_page_url() -> str:
    # Where app.py serves the page when no page URL is configured.
    return f"http://{lan_ipv4() or '127.0.0.1'}:{PAGE_PORT}/"
