"""The local cloud keeps what it accepted across stop and start: snapshot and restore.

Everything the local cloud holds lives in memory (moto's backends and our shadow service).
This module writes it to one JSON file in the cloud's private folder and puts it back when
the next cloud process starts, before that process announces it is ready:

- IoT: things, certificates (public PEM and status only: the certificate id is the SHA-256 of
  the DER, so it comes back the same and a board's saved certificate and key still get in),
  policies with their versions, policy and thing attachments, topic rules;
- IAM: customer-managed policies, roles and users (notebook 01's course user) with their inline
  and attached policies (no access keys: they are secrets, and the course makes none); Lambda functions with their zip (base64)
  and resource policy; DynamoDB tables with their items; CloudWatch log groups;
- device shadows with state, metadata and version.

No private key is ever written: moto does not keep the one CreateKeysAndCertificate hands out,
and the learner's own copy lives in the credentials folder.

When: a mutating control-plane request (through moto's HTTP side) or an accepted shadow
update/delete marks the snapshot out of date; a background thread writes it at most once a
second (atomically: temporary file, fsync, rename; mode 0600), and once more on a clean stop.
A killed cloud loses at most the last second. The instructor's reset deletes the file.

Restore reads moto's backends directly (in this process, no HTTP): it is fast and needs no
running listener. A file that cannot be read is moved aside and the cloud starts empty; one
item that cannot be restored is logged and skipped. moto's internals are pinned (<6) in
pyproject.toml and exercised by tests/test_sky_persistence.py.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kurs.sky.info import ACCOUNT_ID, REGION, sky_dir

log = logging.getLogger(__name__)

FORMAT = "kurs-sky-tilstand"
FORMAT_VERSION = 1
INTERVAL_S = 1.0
# Control-plane actions that never change state; every other request marks the snapshot dirty.
_READ_ONLY_PREFIXES = ("Get", "List", "Describe", "Scan", "Query", "BatchGet", "Search", "Test")


_SINGULAR = {"roller": "rolle", "logggrupper": "logggruppe", "policyer": "policy", "sertifikater": "sertifikat",
              "dingser": "dings", "koblinger": "kobling", "regler": "regel", "Lambda-funksjoner": "Lambda-funksjon",
              "tabeller": "tabell", "skygger": "skygge", "IAM-policyer": "IAM-policy",
              "IAM-brukere": "IAM-bruker"}


def snapshot_file() -> Path:
    return sky_dir() / "tilstand.json"


# --- moto's backends ------------------------------------------------------------------------

def _iot() -> Any:
    from moto.iot.models import iot_backends

    return iot_backends[ACCOUNT_ID][REGION]


def _iam() -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[ACCOUNT_ID]["aws"]


def _lambda() -> Any:
    from moto.awslambda.models import lambda_backends

    return lambda_backends[ACCOUNT_ID][REGION]


def _dynamodb() -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[ACCOUNT_ID][REGION]


def _logs() -> Any:
    from moto.logs.models import logs_backends

    return logs_backends[ACCOUNT_ID][REGION]


# --- snapshot: from memory to plain JSON ---------------------------------------------------

def _collect_iot() -> dict[str, Any]:
    iot = _iot()
    things = [{"name": t.thing_name, "type": t.thing_type.thing_type_name if t.thing_type else None,
               "attributes": dict(t.attributes or {})} for t in list(iot.things.values())]
    certificates = [{"pem": c.certificate_pem, "status": c.status} for c in list(iot.certificates.values())]
    policies = [{"name": p.name, "default": str(p.default_version_id),
                 "versions": [{"id": str(v.version_id), "document": v.document} for v in list(p.versions)]}
                for p in list(iot.policies.values())]
    policy_attachments = [{"principal": principal, "policy": policy}
                          for principal, policy in list(iot.principal_policies.keys())]
    thing_principals = [{"principal": principal, "thing": thing}
                        for principal, thing in list(iot.principal_things.keys())]
    rules = [{"name": r.rule_name, "sql": r.sql, "description": r.description, "disabled": r.rule_disabled,
              "actions": r.actions, "error_action": r.error_action, "sql_version": r.aws_iot_sql_version}
             for r in list(iot.rules.values())]
    return {"things": things, "certificates": certificates, "policies": policies,
            "policy_attachments": policy_attachments, "thing_principals": thing_principals, "rules": rules}


def _collect_iam() -> dict[str, Any]:
    roles = []
    for role in list(_iam().roles.values()):
        tags = role.tags.values() if isinstance(role.tags, dict) else (role.tags or [])
        roles.append({"name": role.name, "path": role.path, "trust": role.assume_role_policy_document,
                      "description": role.description, "max_session": role.max_session_duration,
                      "tags": [dict(t) for t in tags], "inline": dict(role.policies),
                      "managed": list(role.managed_policies.keys())})
    # Customer-managed policies (AWS's own, arn:aws:iam::aws:policy/..., come with moto); the
    # default version's document only, which is what attachments use.
    policies = [{"name": p.name, "path": p.path, "description": p.description or "",
                 "document": next((v.document for v in p.versions if v.is_default), None)}
                for arn, p in list(_iam().managed_policies.items()) if ":aws:policy/" not in arn]
    users = []
    for user in list(_iam().users.values()):
        tags = user.tags.values() if isinstance(user.tags, dict) else (user.tags or [])
        users.append({"name": user.name, "path": user.path, "tags": [dict(t) for t in tags],
                      "inline": dict(user.policies), "managed": list(user.managed_policies.keys())})
    return {"roles": roles, "policies": policies, "users": users}


class _ZipCache:
    """base64 of each function's zip, made once per code version (a zip can be megabytes)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], str] = {}

    def get(self, fn: Any) -> str:
        key = (fn.function_name, str(fn.code_sha_256))
        if key not in self._cache:
            self._cache = {k: v for k, v in self._cache.items() if k[0] != fn.function_name}
            self._cache[key] = base64.b64encode(fn.code_bytes).decode("ascii")
        return self._cache[key]


def _collect_lambda(zips: _ZipCache) -> dict[str, Any]:
    backend = _lambda()
    functions = []
    for group in list(backend._lambdas._functions.values()):
        fn = group["latest"]
        if not getattr(fn, "code_bytes", b""):
            continue  # an image or S3 function: nothing the local cloud could run anyway
        functions.append({"name": fn.function_name, "runtime": fn.run_time, "role": fn.role,
                          "handler": fn.handler, "description": fn.description, "timeout": fn.timeout,
                          "memory": fn.memory_size, "environment": dict(fn.environment_vars or {}),
                          "architectures": list(getattr(fn, "architectures", None) or ["x86_64"]),
                          "tags": dict(fn.tags or {}), "zip": zips.get(fn),
                          "statements": list(fn.policy.statements)})
    return {"functions": functions}


def _index(ix: Any, with_throughput: bool) -> dict[str, Any]:
    """A secondary index as CreateTable takes it."""
    spec = {"IndexName": ix.name, "KeySchema": ix.schema, "Projection": ix.projection}
    if with_throughput and getattr(ix, "throughput", None):
        spec["ProvisionedThroughput"] = {k: ix.throughput[k] for k in ("ReadCapacityUnits", "WriteCapacityUnits")}
    return spec


def _collect_dynamodb() -> dict[str, Any]:
    from moto.dynamodb.models.utilities import dynamo_json_dump

    tables = []
    for table in list(_dynamodb().tables.values()):
        provisioned = table.billing_mode != "PAY_PER_REQUEST"
        throughput = None
        if provisioned:
            throughput = {k: table.throughput[k] for k in ("ReadCapacityUnits", "WriteCapacityUnits")}
        items = json.loads(dynamo_json_dump([item.to_json()["Attributes"] for item in table.all_items()]))
        tables.append({"name": table.name, "schema": table.schema, "attributes": table.attr,
                       "billing_mode": table.billing_mode, "throughput": throughput,
                       "global_indexes": [_index(ix, provisioned) for ix in table.global_indexes],
                       "local_indexes": [_index(ix, False) for ix in table.indexes],
                       "tags": list(table.tags or []), "items": items})
    return {"tables": tables}


def _collect_logs() -> dict[str, Any]:
    return {"groups": [{"name": g.name, "retention": g.retention_in_days} for g in list(_logs().groups.values())]}


def collect(shadow: Any, zips: _ZipCache | None = None) -> dict[str, Any]:
    """Everything the local cloud holds, as JSON-ready data (no private keys)."""
    return {"format": FORMAT, "version": FORMAT_VERSION,
            "iot": _collect_iot(), "iam": _collect_iam(), "lambda": _collect_lambda(zips or _ZipCache()),
            "dynamodb": _collect_dynamodb(), "logs": _collect_logs(),
            "shadows": shadow.export() if shadow is not None else []}


# --- restore: from JSON back into memory -----------------------------------------------------

class _Restorer:
    """Puts one snapshot back; each item on its own, so one bad item never blocks the rest."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.failed = 0
        self.skipped: list[str] = []  # "dings «x»", for the learner

    def _each(self, what: str, items: Any, restore: Callable[[dict[str, Any]], None]) -> int:
        done = 0
        for item in items if isinstance(items, list) else []:
            try:
                restore(item)
                done += 1
            except Exception as exc:
                self.failed += 1
                name = (item.get("name") or item.get("thing") or "?") if isinstance(item, dict) else "?"
                self.skipped.append(f"{what} «{name}»")
                log.warning("Kunne ikke gjenopprette %s «%s»: %s: %s. Hopper over den.", what, name,
                            type(exc).__name__, exc)
        return done

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name)
        return value if isinstance(value, dict) else {}

    def run(self, shadow: Any) -> dict[str, int]:
        iam, iot = self.section("iam"), self.section("iot")
        counts = {
            "IAM-policyer": self._each("IAM-policyen", iam.get("policies"), _restore_iam_policy),
            "roller": self._each("IAM-rollen", iam.get("roles"), _restore_role),
            "IAM-brukere": self._each("IAM-brukeren", iam.get("users"), _restore_user),
            "logggrupper": self._each("logggruppen", self.section("logs").get("groups"), _restore_log_group),
            "policyer": self._each("IoT-policyen", iot.get("policies"), _restore_policy),
            "sertifikater": self._each("sertifikatet", iot.get("certificates"), _restore_certificate),
            "dingser": self._each("dingsen (thing)", iot.get("things"), _restore_thing),
            "koblinger": self._each("koblingen mellom policy og sertifikat", iot.get("policy_attachments"),
                                    lambda a: _iot().attach_principal_policy(a["policy"], a["principal"]))
            + self._each("koblingen mellom dings og sertifikat", iot.get("thing_principals"),
                         lambda a: _iot().attach_thing_principal(a["thing"], a["principal"])),
            "regler": self._each("regelen", iot.get("rules"), _restore_rule),
            "Lambda-funksjoner": self._each("Lambda-funksjonen", self.section("lambda").get("functions"),
                                            _restore_function),
            "tabeller": self._each("DynamoDB-tabellen", self.section("dynamodb").get("tables"), _restore_table),
            "skygger": self._each("skyggen", self.data.get("shadows"),
                                  shadow.load if shadow is not None else lambda r: None),
        }
        return counts


def _restore_role(r: dict[str, Any]) -> None:
    iam = _iam()
    iam.create_role(r["name"], r["trust"], r.get("path") or "/", None, r.get("description") or "",
                    r.get("tags") or [], r.get("max_session"))
    for name, document in (r.get("inline") or {}).items():
        iam.put_role_policy(r["name"], name, document)
    for arn in r.get("managed") or []:
        try:
            iam.attach_role_policy(arn, r["name"])
        except Exception as exc:
            log.warning("Rollen «%s» fikk ikke tilbake den administrerte policyen %s: %s", r["name"], arn, exc)


def _restore_iam_policy(p: dict[str, Any]) -> None:
    _iam().create_policy(p.get("description") or "", p.get("path") or "/", p["document"], p["name"], [])


def _restore_user(u: dict[str, Any]) -> None:
    iam = _iam()
    iam.create_user(REGION, u["name"], u.get("path") or "/", u.get("tags") or [])
    for name, document in (u.get("inline") or {}).items():
        iam.put_user_policy(u["name"], name, document)
    for arn in u.get("managed") or []:
        try:
            iam.attach_user_policy(arn, u["name"])
        except Exception as exc:
            log.warning("IAM-brukeren «%s» fikk ikke tilbake policyen %s: %s", u["name"], arn, exc)


def _restore_log_group(g: dict[str, Any]) -> None:
    logs = _logs()
    logs.create_log_group(g["name"], {})
    if g.get("retention"):
        logs.put_retention_policy(g["name"], g["retention"])


def _restore_policy(p: dict[str, Any]) -> None:
    versions = p.get("versions") or []
    if not versions:
        raise ValueError("policy without versions")
    iot = _iot()
    iot.create_policy(p["name"], versions[0]["document"])
    for version in versions[1:]:
        iot.create_policy_version(p["name"], version["document"], False)
    # Same version ids as before (some may have been deleted), same default.
    policy = iot.policies[p["name"]]
    for restored, saved in zip(policy.versions, versions, strict=True):
        restored._version_id = int(saved["id"])
        restored.is_default = str(saved["id"]) == str(p["default"])
        if restored.is_default:
            policy.document = restored.document
    policy.default_version_id = str(p["default"])
    policy._max_version_id = max(int(v["id"]) for v in versions)


def _restore_certificate(c: dict[str, Any]) -> None:
    _iot().register_certificate_without_ca(c["pem"], c.get("status") or "ACTIVE")


def _restore_thing(t: dict[str, Any]) -> None:
    iot = _iot()
    attributes = t.get("attributes") or {}
    iot.create_thing(t["name"], t.get("type"), {"attributes": attributes} if attributes else None)


def _restore_rule(r: dict[str, Any]) -> None:
    _iot().create_topic_rule(r["name"], r["sql"], description=r.get("description"),
                             rule_disabled=r.get("disabled", False), actions=r.get("actions"),
                             error_action=r.get("error_action"), aws_iot_sql_version=r.get("sql_version"))


def _restore_function(f: dict[str, Any]) -> None:
    spec = {"FunctionName": f["name"], "Runtime": f.get("runtime"), "Role": f["role"], "Handler": f.get("handler"),
            "Description": f.get("description") or "", "Timeout": f.get("timeout") or 3,
            "MemorySize": f.get("memory") or 128, "Environment": {"Variables": f.get("environment") or {}},
            "Architectures": f.get("architectures") or ["x86_64"], "Tags": f.get("tags") or {},
            "Code": {"ZipFile": f["zip"]}}
    fn = _lambda().create_function(spec)
    fn.policy.statements = list(f.get("statements") or [])


def _restore_table(t: dict[str, Any]) -> None:
    backend = _dynamodb()
    backend.create_table(t["name"], schema=t["schema"], throughput=t.get("throughput"), attr=t["attributes"],
                         global_indexes=t.get("global_indexes") or None, indexes=t.get("local_indexes") or None,
                         streams=None, billing_mode=t.get("billing_mode") or "PROVISIONED",
                         sse_specification=None, tags=t.get("tags") or [], deletion_protection_enabled=False,
                         warm_throughput=None)
    bad = 0
    for item in t.get("items") or []:
        try:
            backend.put_item(t["name"], item)
        except Exception:
            bad += 1
    if bad:
        log.warning("%d element(er) i tabellen «%s» kunne ikke gjenopprettes og ble hoppet over.", bad, t["name"])


# --- the store: when to write, how to read -----------------------------------------------------

def _write_atomically(path: Path, data: bytes) -> None:
    """Temporary file (0600 from the start), fsync, rename: a crash leaves the old or the new file."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _move_aside(path: Path) -> Path:
    target = path.with_name(f"tilstand-feil-{time.strftime('%Y%m%d-%H%M%S')}.json")
    os.replace(path, target)
    return target


class Store:
    """Snapshots of one local cloud: ``restore()`` at start, ``start()`` the writer, ``close()`` at stop."""

    def __init__(self, shadow: Any, path: Path | None = None, interval_s: float = INTERVAL_S) -> None:
        self.shadow = shadow
        self.path = path or snapshot_file()
        self.interval_s = interval_s
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self._zips = _ZipCache()
        self._last: bytes | None = None
        self._thread: threading.Thread | None = None
        # What restore() could not bring back, in Norwegian: `kurs sky start` says it out loud.
        self.losses: list[str] = []
        if shadow is not None:
            shadow.on_change = self.mark_dirty

    def mark_dirty(self) -> None:
        self._dirty.set()

    # --- start ----------------------------------------------------------------------------
    def restore(self) -> dict[str, int] | None:
        """Put back the last snapshot, if any. Never raises: a bad file is moved aside."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._lost(self._set_aside(), str(exc.strerror or exc))
            return None
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError("ikke en tilstandsfil for den lokale skyen")
            if data.get("version") != FORMAT_VERSION:
                raise ValueError(f"ukjent formatversjon {data.get('version')!r}")
        except ValueError as exc:
            self._lost(self._set_aside(), "filen er skadet" if isinstance(exc, json.JSONDecodeError) else str(exc))
            return None
        restorer = _Restorer(data)
        counts = restorer.run(self.shadow)
        self._last = raw
        summary = ", ".join(f"{n} {_SINGULAR.get(what, what) if n == 1 else what}" for what, n in counts.items() if n)
        log.info("Hentet fram det den lokale skyen hadde lagret: %s.", summary or "ingenting")
        if restorer.failed:
            log.warning("%d ting kunne ikke gjenopprettes (se advarslene over); resten er på plass.",
                        restorer.failed)
            shown = ", ".join(restorer.skipped[:5]) + (" …" if len(restorer.skipped) > 5 else "")
            self.losses.append(f"⚠️  {restorer.failed} ting fra den lagrede tilstanden kunne ikke hentes fram og er "
                               f"borte: {shown}. Resten er på plass. Detaljene står i «kurs sky logg».")
        return counts

    def _set_aside(self) -> Path | None:
        """Move an unusable snapshot out of the way (the next save would overwrite it); None if it stays."""
        try:
            return _move_aside(self.path)
        except OSError:
            return None

    def _lost(self, moved: Path | None, why: str) -> None:
        where = (f"Den er flyttet til {moved}, så du kan se på den." if moved is not None
                 else f"Den ligger fortsatt i {self.path}, men blir erstattet ved neste endring.")
        log.warning("Den lagrede tilstanden til den lokale skyen kunne ikke leses (%s). %s Skyen starter tom.",
                    why, where)
        self.losses.append(f"⚠️  Den lagrede tilstanden til den lokale skyen kunne ikke leses ({why}). {where}\n"
                           "    Skyen starter derfor tom: dingser, sertifikater, policyer, skygger, regler, "
                           "Lambda-funksjoner og tabeller fra før er ikke med. Kort med et gammelt sertifikat "
                           "slipper ikke inn før du provisjonerer dem på nytt.")

    def install_http_hook(self) -> None:
        """Mark the snapshot dirty after every control-plane request that may change state."""
        from kurs.sky import moto_patches

        def after(action: str) -> None:
            if not action.startswith(_READ_ONLY_PREFIXES):
                self.mark_dirty()

        moto_patches.after_each_request(after)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lagring", daemon=True)
        self._thread.start()

    # --- writing ----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self._dirty.is_set():
                self.save()

    def save(self) -> bool:
        """Write a snapshot now if the state differs from the last one written. True if written."""
        with self._write_lock:
            self._dirty.clear()  # a change during collect sets it again: written on the next tick
            try:
                data = json.dumps(collect(self.shadow, self._zips), ensure_ascii=False,
                                  separators=(",", ":")).encode("utf-8")
            except RuntimeError:  # a backend changed while being read (another thread): next tick
                self._dirty.set()
                return False
            except Exception:
                self._dirty.set()
                log.exception("Kunne ikke ta vare på tilstanden til den lokale skyen")
                return False
            if data == self._last:
                return False
            try:
                _write_atomically(self.path, data)
            except OSError as exc:
                self._dirty.set()
                log.warning("Kunne ikke skrive den lagrede tilstanden (%s); prøver igjen.", exc)
                return False
            self._last = data
            return True

    def wipe(self) -> None:
        """The instructor's reset: the snapshot goes too (a clean room)."""
        with self._write_lock:
            self.path.unlink(missing_ok=True)
            self._last = None
            self._dirty.clear()
        log.info("Den lagrede tilstanden er slettet.")

    def close(self) -> None:
        """Stop the writer and write what is still unsaved (clean stop)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._dirty.is_set():
            self.save()
