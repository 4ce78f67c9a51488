"""free_port() picks ports the kernel does not hand out on its own, so nothing takes them before our bind."""

import random
import socket

from shared.redis_conn import _ephemeral_low, free_port


def test_free_ports_are_below_the_ephemeral_range_and_bindable():
    low = _ephemeral_low()
    ports = {free_port() for _ in range(50)}
    assert len(ports) > 40  # chosen at random, not one port for everyone
    for port in ports:
        assert 1024 <= port < low
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_in_use_is_never_chosen(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        offered = []

        class BusyFirst:  # offers the port in use twice, then chooses as usual
            def randrange(self, low: int, high: int) -> int:
                offered.append(busy if len(offered) < 2 else random.SystemRandom().randrange(low, high))
                return offered[-1]

        monkeypatch.setattr("shared.redis_conn._PORT_CHOICE", BusyFirst())
        assert free_port() != busy and offered[:2] == [busy, busy]
