"""This machine's address on the local network, for real boards that use the local cloud.

A real ESP32 cannot reach 127.0.0.1 (that is the board itself), so ``kurs sky start --lan``
also listens for mutual-TLS MQTT on the network and gives boards this address.
"""

from __future__ import annotations

import ipaddress
import socket

from kurs.errors import CourseError

# Connecting a UDP socket sends nothing; it only asks the OS which interface it would route
# through. TEST-NET-2 (RFC 5737) is never a real destination.
_PROBE = ("198.51.100.1", 9)


def lan_address() -> str:
    """The IPv4 address other machines on the network reach this one at."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(_PROBE)
            address = probe.getsockname()[0]
        except OSError:
            address = ""
    if not address or ipaddress.ip_address(address).is_loopback or address == "0.0.0.0":
        raise CourseError(
            "Fant ingen nettverksadresse for denne maskinen, så et ekte kort kan ikke nå den lokale skyen.",
            "Koble maskinen til det samme Wi-Fi-nettet som kortet, og prøv «kurs sky start --lan» igjen. "
            "Uten nettverk: bruk et virtuelt kort.",
        )
    return address
