"""A real coturn on loopback: relay-only privacy, TURN REST credentials from the service,
and a second TURN server taking over from one that cannot be reached."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from engine_support import Side, make_side, pair
from turn_support import PASSWORD, SECRET, USER, Coturn

from qrlink_desktop.core.bootstrap import CandidateType
from qrlink_desktop.core.handshake import Role
from qrlink_desktop.core.turn import rest_credentials, rest_expiry
from qrlink_desktop.rendezvous.client import RendezvousClient
from qrlink_desktop.rendezvous.server import ServiceConfig, create_app, serve
from qrlink_desktop.rendezvous.turn_grants import api_tokens_from
from qrlink_desktop.rtc.peer import IceConfig, IceServerConfig, _ice_connection

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def coturn() -> Iterator[Coturn]:
    server = Coturn(relay_ports=(49300, 49399)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def coturn_rest() -> Iterator[Coturn]:
    server = Coturn(rest=True, relay_ports=(49400, 49499)).start()
    yield server
    server.stop()


def _side(role: Role, ice: IceConfig) -> Side:
    return make_side(role, ice=ice, merchant=None)


def _relay_only(turn: IceServerConfig) -> IceConfig:
    return IceConfig(
        servers=(turn,), relay_only=True, addresses=("127.0.0.1",), allow_loopback=True
    )


async def _pair_relay_only(turn: IceServerConfig, cleanup: list[Side]) -> tuple[Side, Side]:
    """Cashier and customer, both relay-only through `turn`, paired."""
    cashier, customer = (
        _side(Role.OFFERER, _relay_only(turn)),
        _side(Role.ANSWERER, _relay_only(turn)),
    )
    cleanup += [cashier, customer]
    await pair(cashier, customer)
    return cashier, customer


@pytest.fixture
async def cleanup() -> AsyncIterator[list[Side]]:
    made: list[Side] = []
    yield made
    for side in made:
        await side.session.shutdown()


def _in_relay_range(port: int, server: Coturn) -> bool:
    return server.relay_ports[0] <= port <= server.relay_ports[1]


async def test_relay_only_reveals_no_host_or_reflexive_address(
    coturn: Coturn, cleanup: list[Side]
) -> None:
    turn = IceServerConfig((coturn.url(),), USER, PASSWORD)
    cashier, customer = await _pair_relay_only(turn, cleanup)
    for side in (cashier, customer):
        peer = side.session.peer
        assert peer is not None and peer.local is not None and peer.remote is not None
        # What each side sent and received: relay candidates only, on the relay's ports.
        for record in (peer.local, peer.remote):
            assert record.relay_only
            assert [c.type for c in record.candidates] == [CandidateType.RELAY]
            assert all(_in_relay_range(c.port, coturn) for c in record.candidates)
        # What the ICE agent actually learned from the wire: nothing but relay addresses.
        conn = _ice_connection(peer.pc)
        assert conn.remote_candidates
        assert all(_in_relay_range(c.port, coturn) for c in conn.remote_candidates)
        assert all(c.related_address in (None, "0.0.0.0", "::") for c in conn.local_candidates)
        assert side.of("state", state="CONNECTED")[0]["path"] == "relay"
    rid = cashier.session.request_payment("8.00", "EUR")
    await customer.wait_for("message", type="payment_request", messageId=rid)


async def test_rest_credentials_from_the_service(coturn_rest: Coturn, cleanup: list[Side]) -> None:
    config = ServiceConfig(
        rate_limit=None,
        turn_secret=SECRET,
        turn_urls=(coturn_rest.url(),),
        turn_ttl=600,
        api_token_hashes=api_tokens_from("merchant-token"),
    )
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(
        serve(create_app(config=config), "127.0.0.1", 0, stop=stop, ready=ready.set_result)
    )
    try:
        async with RendezvousClient(await ready) as client:
            creds = await client.turn_credentials(api_token="merchant-token")
        assert creds is not None and creds.uris == (coturn_rest.url(),)
        expiry = rest_expiry(creds.username)
        assert expiry is not None and 590 <= expiry - time.time() <= 610
        turn = IceServerConfig(creds.uris, creds.username, creds.credential)
        cashier, _ = await _pair_relay_only(turn, cleanup)
        assert cashier.of("state", state="CONNECTED")[0]["path"] == "relay"
    finally:
        stop.set()
        await task


async def test_expired_rest_credentials_get_no_relay(
    coturn_rest: Coturn, cleanup: list[Side]
) -> None:
    username, password = rest_credentials(SECRET, "late", 60, time.time() - 3600)
    turn = IceServerConfig((coturn_rest.url(),), username, password)
    cashier = _side(Role.OFFERER, _relay_only(turn))
    cleanup.append(cashier)
    assert await cashier.session.new_customer() is None  # said once, as the error event
    (error,) = cashier.of("error")
    assert "TURN" in error["message"] or "address" in error["message"]


@pytest.fixture(scope="module")
def first_down_second_up(coturn: Coturn) -> Iterator[tuple[IceServerConfig, IceServerConfig]]:
    """Two coturn relays configured in this order; the first has gone down."""
    first = Coturn(relay_ports=(49700, 49799)).start()
    first.stop()
    yield (
        IceServerConfig((first.url(),), USER, PASSWORD),
        IceServerConfig((coturn.url(),), USER, PASSWORD),
    )


def _both_relays(servers: tuple[IceServerConfig, IceServerConfig]) -> IceConfig:
    return IceConfig(
        servers=servers, relay_only=True, addresses=("127.0.0.1",), allow_loopback=True
    )


@pytest.mark.parametrize("side", [Role.OFFERER, Role.ANSWERER])
async def test_a_second_turn_server_takes_over(
    coturn: Coturn,
    first_down_second_up: tuple[IceServerConfig, IceServerConfig],
    cleanup: list[Side],
    side: Role,
) -> None:
    """Both sides try their TURN servers in turn: the one configured with the dead relay
    first gathers through the second and pairs relay-only."""
    down, up = first_down_second_up
    rotating, other = _both_relays((down, up)), _relay_only(up)
    cashier = _side(Role.OFFERER, rotating if side == Role.OFFERER else other)
    customer = _side(Role.ANSWERER, rotating if side == Role.ANSWERER else other)
    cleanup += [cashier, customer]
    await pair(cashier, customer)
    tested = cashier if side == Role.OFFERER else customer
    peer = tested.session.peer
    assert peer is not None and peer.local is not None
    assert [c.type for c in peer.local.candidates] == [CandidateType.RELAY]
    assert all(_in_relay_range(c.port, coturn) for c in peer.local.candidates)
    assert tested.of("state", state="CONNECTED")[0]["path"] == "relay"
    rid = cashier.session.request_payment("2.50", "EUR")
    await customer.wait_for("message", type="payment_request", messageId=rid, timeout=30)


async def test_laptop_only_relay_still_pairs_with_a_direct_phone(
    coturn: Coturn, cleanup: list[Side]
) -> None:
    turn = IceServerConfig((coturn.url(),), USER, PASSWORD)
    phone = IceConfig(addresses=("127.0.0.1",), allow_loopback=True)
    cashier, customer = _side(Role.OFFERER, _relay_only(turn)), _side(Role.ANSWERER, phone)
    cleanup += [cashier, customer]
    await pair(cashier, customer)
    assert cashier.of("state", state="CONNECTED")[0]["local"] == "relay"


async def test_turn_over_tcp(coturn: Coturn, cleanup: list[Side]) -> None:
    """A shop network that blocks UDP to the relay: TURN over TCP carries the pairing."""
    url = f"turn:127.0.0.1:{coturn.port}?transport=tcp"
    turn = IceServerConfig((url,), USER, PASSWORD)
    cashier, customer = await _pair_relay_only(turn, cleanup)
    assert cashier.of("state", state="CONNECTED")[0]["path"] == "relay"
    rid = cashier.session.request_payment("1.25", "EUR")
    await customer.wait_for("message", type="payment_request", messageId=rid)
