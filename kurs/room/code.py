"""The class code learners type to join a room: ``ABCD-EFGH``.

The first half is a random secret (what the instructor shares with the room); the second half is
a fragment of the SHA-256 fingerprint of the room's CA certificate. A learner's laptop fetches the
CA over an unverified connection first, and trusts it only when its fingerprint starts with that
fragment (trust on first use, pinned by something the instructor said out loud), so someone else
on the Wi-Fi cannot pose as the room by answering first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# No 0/O, 1/I/L: the code is read aloud and copied from a projector.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
SECRET_LENGTH = 4
FINGERPRINT_LENGTH = 4


def fingerprint(ca_der: bytes) -> str:
    """The CA's fingerprint fragment as it appears in the code (upper-case base32, no ambiguous letters)."""
    digest = base64.b32encode(hashlib.sha256(ca_der).digest()).decode()
    return "".join(_readable(c) for c in digest[:FINGERPRINT_LENGTH])


def _readable(c: str) -> str:
    return {"O": "P", "I": "J", "L": "M", "0": "2", "1": "3"}.get(c, c)


def new_code(ca_der: bytes) -> str:
    secret = "".join(secrets.choice(ALPHABET) for _ in range(SECRET_LENGTH))
    return f"{secret}-{fingerprint(ca_der)}"


def normalise(code: str) -> str:
    """What the learner typed, as the room compares it: upper case, spaces gone, the dash put back."""
    plain = "".join(c for c in str(code).upper() if c.isalnum())
    return f"{plain[:SECRET_LENGTH]}-{plain[SECRET_LENGTH:]}"


def well_formed(code: str) -> bool:
    plain = normalise(code).replace("-", "")
    return len(plain) == SECRET_LENGTH + FINGERPRINT_LENGTH and all(c in ALPHABET for c in plain)


def pinned_fragment(code: str) -> str:
    return normalise(code).split("-", 1)[1]


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(normalise(a).encode(), normalise(b).encode())
