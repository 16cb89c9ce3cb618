"""Ports for tests that stop a server and start it again on the same port."""

from __future__ import annotations

import random
import socket

# Below Linux's ephemeral range (32768-60999): while the server is down, any outgoing connection
# on the machine may be given a port from that range as its own, and the restart then finds its
# port taken. The course's default ports (1883, 5055, 8883) are outside it for the same reason.
_STEADY = range(20000, 32000)


def steady_port() -> int:
    """A free loopback port that no client connection will borrow between a stop and a start."""
    for _ in range(200):
        port = random.choice(_STEADY)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port between 20000 and 32000")
