"""A learner's membership of a room, on the learner's laptop: joining, the saved membership and leaving.

The membership lives in ``rom/medlemskap.json`` under the learner's KURS_HOME (0600: it holds the
learner's secret key), beside the room's CA in ``rom/ca.pem``. While it exists, ``kurs.room``'s
learner tools (boards, the notebook's MQTT identity, progress) use the room's cloud with the
learner's own key; the learner's own local cloud and everything in it is never touched, so leaving
(deleting the membership) returns the learner to it with nothing lost.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kurs.errors import CourseError
from kurs.paths import private_dir, write_private
from kurs.room import code as class_code

DEFAULT_API_PORT = 5055
TIMEOUT_S = 5.0


def membership_file() -> Path:
    return private_dir("rom") / "medlemskap.json"


def return_ticket_file() -> Path:
    """After leaving: proof (a hash of the old secret, not the secret) that lets this laptop come
    back to the same room under the same name, to what it made there."""
    return private_dir("rom") / "tilbake.json"


def ca_file() -> Path:
    return private_dir("rom") / "ca.pem"


@dataclass(frozen=True)
class Membership:
    host: str
    api_port: int
    mqtts_port: int
    region: str
    account_id: str
    name: str
    slug: str
    code: str
    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:  # never the secret in a notebook or a traceback
        return f"Membership(rom={self.host}:{self.api_port}, navn={self.name!r}, prefiks={self.slug!r})"

    @property
    def endpoint_url(self) -> str:
        return f"https://{self.host}:{self.api_port}"

    @property
    def ca_file(self) -> str:
        return str(ca_file())

    def env(self) -> dict[str, str]:
        """What points boto3 and the aws CLI at the room, as this learner."""
        return {"AWS_ENDPOINT_URL": self.endpoint_url, "AWS_CA_BUNDLE": self.ca_file,
                "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region,
                "AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}

    def client(self, service: str) -> Any:
        """A boto3 client for the room's cloud, signed with the learner's own key."""
        import boto3

        return boto3.session.Session(aws_access_key_id=self.access_key_id,
                                     aws_secret_access_key=self.secret_access_key,
                                     region_name=self.region).client(service, endpoint_url=self.endpoint_url,
                                                                     verify=self.ca_file)

    def reachable(self) -> None:
        """A Norwegian error when the room does not answer (stopped, or another network)."""
        try:
            with socket.create_connection((self.host, self.api_port), timeout=TIMEOUT_S):
                pass
        except OSError:
            raise CourseError(f"Rommet på {self.host}:{self.api_port} svarer ikke (er det stoppet, eller er du "
                              "på et annet nett?). Det du har laget, er ikke borte.",
                              "Spør instruktøren om rommet kjører. Vil du jobbe alene imens: kurs.room.leave() "
                              "(eller «kurs rom forlat»); da bruker kurs din egen lokale sky igjen.") from None


def load() -> Membership | None:
    try:
        data = json.loads(membership_file().read_text(encoding="utf-8"))
        return Membership(**data)
    except (OSError, ValueError, TypeError):
        return None


def current() -> Membership:
    found = load()
    if found is None:
        raise CourseError("Du er ikke med i noe rom.",
                          "Bli med med kurs.room.join(\"ADRESSE\", \"KODE\", \"navnet ditt\") eller "
                          "«kurs rom bli-med ADRESSE KODE --navn NAVN».")
    return found


def parse_address(address: str) -> tuple[str, int]:
    text = str(address).strip().removeprefix("https://").rstrip("/")
    host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    try:
        number = int(port) if port else DEFAULT_API_PORT
    except ValueError:
        number = -1
    if not host or not 0 < number < 65536:
        raise CourseError(f"«{address}» er ikke en adresse til et rom.",
                          "Skriv den slik instruktøren viser den, for eksempel «192.168.1.20:5055».")
    return host, number


def join(address: str, code: str, name: str, *, quiet: bool = False) -> Membership:
    """Join the room at ``address`` with the class ``code`` as ``name``: your own key, saved here."""
    host, port = parse_address(address)
    if not class_code.well_formed(code):
        raise CourseError(f"«{code}» ser ikke ut som en klassekode.",
                          "Klassekoden er åtte tegn, for eksempel «K7QM-XR4T», slik instruktøren viser den.")
    ca_pem = _fetch_ca(host, port)
    _check_pin(ca_pem, code, host)
    ca_path = write_private(ca_file(), ca_pem)
    request = {"kode": class_code.normalise(code), "navn": name}
    proof = _proof(host, port)
    if proof:
        request["tidligere"] = proof
    answer = _post(host, port, "/kurs-rom/bli-med", request, str(ca_path))
    info = answer.get("rom", {})
    membership = Membership(host=host, api_port=port, mqtts_port=int(info.get("mqtts_port") or 8883),
                            region=str(info.get("region") or "eu-west-1"),
                            account_id=str(info.get("account_id") or "123456789012"),
                            name=str(answer["navn"]), slug=str(answer["prefiks"]),
                            code=class_code.normalise(code), access_key_id=str(answer["aws_access_key_id"]),
                            secret_access_key=str(answer["aws_secret_access_key"]))
    write_private(membership_file(), json.dumps(asdict(membership), indent=2, ensure_ascii=False))
    if not quiet:
        print(f"Velkommen i rommet, {membership.name}! Alt du lager der, får navn som begynner med "
              f"«{membership.slug}-» (for eksempel kortet «{membership.slug}-knapp»). Nøklene dine ligger i "
              f"{membership_file().parent} (bare du kan lese dem).")
    return membership


def _proof(host: str, port: int) -> str | None:
    from kurs.room.host import secret_hash

    previous = load()
    if previous is not None and (previous.host, previous.api_port) == (host, port):
        return secret_hash(previous.secret_access_key)
    try:
        ticket = json.loads(return_ticket_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return str(ticket.get("bevis")) if (ticket.get("host"), ticket.get("api_port")) == (host, port) else None


def leave(*, quiet: bool = False) -> bool:
    """Leave the room: kurs uses your own local cloud again. Nothing you made anywhere is deleted."""
    from kurs.room.host import secret_hash

    found = load()
    if found is not None:
        write_private(return_ticket_file(), json.dumps({"host": found.host, "api_port": found.api_port,
                                                        "bevis": secret_hash(found.secret_access_key)}))
    membership_file().unlink(missing_ok=True)
    if not quiet:
        if found is None:
            print("Du var ikke med i noe rom.")
        else:
            print(f"Du har forlatt rommet på {found.host}. kurs bruker din egen lokale sky igjen; det du laget "
                  "der, er urørt. Det du laget i rommet, ligger igjen i rommet til instruktøren avslutter det.")
    return found is not None


def _unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only to fetch the CA, which the class code then pins
    return context


def _fetch_ca(host: str, port: int) -> bytes:
    try:
        with urllib.request.urlopen(f"https://{host}:{port}/kurs-rom/ca", timeout=TIMEOUT_S,
                                    context=_unverified_context()) as reply:
            return reply.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        raise CourseError(f"Maskinen på {host}:{port} svarer, men er ikke et rom (HTTP {exc.code}).",
                          "Sjekk adressen og porten instruktøren viser.") from None
    except (OSError, ssl.SSLError) as exc:
        raise CourseError(f"Får ikke kontakt med rommet på {host}:{port} ({_why(exc)}).",
                          "Sjekk adressen, at du er på samme nett som instruktøren, og at rommet er startet. "
                          "Du kan jobbe videre alene så lenge; ingenting er tapt.") from None


def _check_pin(ca_pem: bytes, code: str, host: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        der = x509.load_pem_x509_certificate(ca_pem).public_bytes(serialization.Encoding.DER)
    except ValueError:
        der = b""
    if class_code.fingerprint(der) != class_code.pinned_fragment(code):
        raise CourseError(f"Maskinen på {host} er ikke rommet klassekoden hører til (fingeravtrykket stemmer ikke).",
                          "Sjekk koden og adressen instruktøren viser. Stemmer begge, kan noen på nettet utgi seg "
                          "for å være rommet: si fra til instruktøren.")


def _post(host: str, port: int, path: str, data: dict[str, Any], ca_path: str) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=ca_path)
    body = json.dumps(data).encode()
    request = urllib.request.Request(f"https://{host}:{port}{path}", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S, context=context) as reply:
            return json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("melding")
        except (ValueError, AttributeError):
            message = None
        raise CourseError(message or f"Rommet sa nei (HTTP {exc.code}).",
                          "Sjekk klassekoden og navnet; spør instruktøren om det fortsatt ikke går.") from None
    except (OSError, ssl.SSLError) as exc:
        raise CourseError(f"Får ikke kontakt med rommet på {host}:{port} ({_why(exc)}).",
                          "Sjekk at rommet fortsatt kjører.") from None


def _why(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, socket.timeout | TimeoutError):
        return "ingen svar"
    if isinstance(reason, ConnectionRefusedError):
        return "ingen tjeneste på porten"
    return str(getattr(reason, "strerror", None) or reason)


def apply_env(membership: Membership) -> None:
    """Point this process's boto3 and the aws CLI it starts at the room (kurs.room.use())."""
    os.environ.update(membership.env())
    import sys

    boto3 = sys.modules.get("boto3")
    if boto3 is not None:
        boto3.DEFAULT_SESSION = None
