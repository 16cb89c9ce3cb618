"""A virtual board's identity: a stable MAC address and the device id Mongoose OS derives from it.

On an ESP32, ``device.id`` defaults to ``esp32_??????`` with the ``?`` replaced by the last
three bytes of the Wi-Fi MAC in upper-case hex (thing names like ``esp32_F7F2AD``). A virtual
board gets its MAC from a seed, so the same seed always gives the same board.
"""

from __future__ import annotations

import getpass
import hashlib
import re
import socket

from kurs.errors import CourseError

# Espressif's registered OUIs (the first three bytes of real ESP32 MACs).
_ESPRESSIF_OUIS = ((0x24, 0x0A, 0xC4), (0x30, 0xAE, 0xA4), (0xA4, 0xCF, 0x12), (0x24, 0x6F, 0x28),
                   (0x84, 0x0D, 0x8E), (0xAC, 0x67, 0xB2))

# What AWS IoT accepts as a thing name, which is also the MQTT client id here.
_THING_NAME = re.compile(r"^[a-zA-Z0-9:_-]{1,128}$")


def mac_from_seed(seed: str) -> str:
    """A stable, Espressif-looking MAC address (``24:0A:C4:F7:F2:AD``) for ``seed``."""
    digest = hashlib.sha256(seed.encode()).digest()
    oui = _ESPRESSIF_OUIS[digest[0] % len(_ESPRESSIF_OUIS)]
    return ":".join(f"{b:02X}" for b in (*oui, digest[1], digest[2], digest[3]))


def device_id_from_mac(mac: str) -> str:
    return "esp32_" + mac.replace(":", "")[-6:].upper()


def default_seed(app_name: str) -> str:
    """Same machine, same user, same app: same board."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        user = "kurs"
    return f"{socket.gethostname()}/{user}/{app_name}"


def check_device_id(device_id: str) -> str:
    if not isinstance(device_id, str) or not _THING_NAME.match(device_id):
        raise CourseError(
            f"«{device_id}» kan ikke brukes som navn på et kort.",
            "Navnet blir både thing-navn i AWS IoT og MQTT-klient-ID, så bruk bare bokstavene a–z og A–Z, "
            "sifre, bindestrek, understrek og kolon (høyst 128 tegn), for eksempel «esp32_knapp».",
        )
    return device_id
