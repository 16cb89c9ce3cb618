"""Cleanup: remove everything the course created, and only that (``kurs rydd``).

    kurs.cleanup.clean(dry_run=True)    # list what would go
    kurs.cleanup.clean()                # remove it; running it again removes nothing

What counts as the course's is defined in kurs.naming: topic rules ``kurs_…``, Lambda
functions and DynamoDB tables ``kurs-…``, the functions' CloudWatch log groups ``/aws/lambda/kurs-…``
(AWS keeps them, and bills their storage, after the function is gone), policies ``kurs-…``, things marked
``created_by=kurs``, their shadows, IAM roles ``kurs-…`` (for Lambda and rules), the certificates that carry a ``kurs-`` policy or that
provisioning recorded here, and the local credential folders. Order matters on AWS:
certificates are detached and deactivated before they are deleted, policies detached and
their old versions deleted first, things detached from their certificates.

On AWS, leftovers cost money after the free tier, and an active certificate is a way into
the account: that is why the course ends with this step.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kurs import config, naming
from kurs.errors import CourseError

# kind -> (singular, plural) in Norwegian, in the order things are removed.
KINDS: dict[str, tuple[str, str]] = {
    "rule": ("regel (topic rule)", "regler (topic rules)"),
    "function": ("Lambda-funksjon", "Lambda-funksjoner"),
    "log_group": ("logg-gruppe (CloudWatch Logs)", "logg-grupper (CloudWatch Logs)"),
    "table": ("DynamoDB-tabell", "DynamoDB-tabeller"),
    "role": ("IAM-rolle", "IAM-roller"),
    "shadow": ("skygge (shadow)", "skygger (shadows)"),
    "certificate": ("sertifikat", "sertifikater"),
    "policy": ("policy", "policyer"),
    "thing": ("ting (thing)", "ting (things)"),
    "files": ("mappe med nøkler og sertifikater på denne maskinen", "mapper med nøkler og sertifikater på denne maskinen"),
}


@dataclass(frozen=True)
class Item:
    kind: str
    name: str
    detail: str = ""  # shown in the listing
    key: Any = None  # what the remover needs (an ARN, a path, (thing, shadow name), …)

    def label(self) -> str:
        return f"{self.name}{f' ({self.detail})' if self.detail else ''}"


@dataclass
class Plan:
    """What the course has made, by kind."""

    where: str
    items: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def of(self, kind: str) -> list[Item]:
        return [i for i in self.items if i.kind == kind]

    def __str__(self) -> str:
        if not self.items:
            return f"Ingenting å rydde i {self.where}." + "".join(f"\n{n}" for n in self.notes)
        lines = [f"Dette har kurset laget i {self.where}:"]
        for kind, (one, many) in KINDS.items():
            items = self.of(kind)
            if items:
                lines.append(f"  {many if len(items) > 1 else one} ({len(items)}):")
                lines += [f"    - {item.label()}" for item in items]
        return "\n".join(lines + self.notes)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


@dataclass
class Result:
    plan: Plan
    dry_run: bool
    removed: list[Item] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        items = self.plan.items if self.dry_run else self.removed
        return {kind: n for kind in KINDS if (n := sum(1 for i in items if i.kind == kind))}

    def summary(self) -> str:
        counts = self.counts()
        parts = [f"{n} {KINDS[k][0] if n == 1 else KINDS[k][1]}" for k, n in counts.items()]
        if self.dry_run:
            head = ("Prøvekjøring: ingenting er fjernet. Dette ville blitt fjernet: " + ", ".join(parts) + "."
                    if parts else "Prøvekjøring: det er ingenting å rydde.")
        else:
            head = ("Ryddet i " + self.plan.where + ". Fjernet: " + ", ".join(parts) + "."
                    if parts else f"Ingenting å rydde i {self.plan.where}; alt var allerede borte.")
        if self.errors:
            head += "\nDette lot seg ikke fjerne:\n" + "\n".join(f"  - {e}" for e in self.errors)
        return head

    def __str__(self) -> str:
        return self.summary()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.summary())


# --- finding -----------------------------------------------------------------------------
class _Clients:
    def __init__(self, settings: config.Settings, confirm_account: str | None, prefix: str | None = None) -> None:
        self.settings = settings
        self.confirm_account = confirm_account
        self.prefix = prefix  # a room learner's prefix: only what that learner made (kurs.room)
        self._made: dict[str, Any] = {}

    def mine(self, name: str) -> bool:
        if self.prefix is None:
            return True
        from kurs.room.access import slug_owns
        from kurs.room.aws_room import iot_policy_name

        # The room's IoT policy is the instructor's (kurs rom aws), not the learner's to delete.
        return slug_owns(self.prefix, name) and name != iot_policy_name(self.prefix)

    def __call__(self, service: str) -> Any:
        if service not in self._made:
            from kurs import aws_mode

            self._made[service] = aws_mode.client(service, settings=self.settings,
                                                  confirm_account=self.confirm_account)
        return self._made[service]


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])
    else:
        yield from getattr(client, operation)(**kwargs).get(key, [])


def _code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def plan(*, settings: config.Settings | None = None, confirm_account: str | None = None,
         prefix: str | None = None) -> Plan:
    """List what the course has made (nothing is changed); with ``prefix``, only that room learner's."""
    from kurs import aws_mode

    settings = settings or config.load()
    with aws_mode.friendly_errors(settings):
        return _plan(settings, _Clients(settings, confirm_account, prefix))


def _plan(settings: config.Settings, clients: _Clients) -> Plan:
    from kurs.provisioning.credentials import DeviceFiles, credentials_root, target_name

    if settings.mode == "lokal":
        from kurs import sky

        running = sky.status()
        result = Plan(where="den lokale skyen")
        if running is None:
            result.notes.append("Den lokale skyen kjører ikke, så det er ingenting i den (alt der forsvinner når "
                                "den stopper). Bare filene på denne maskinen ryddes.")
        target = target_name("lokal", "", "")
    else:
        from kurs import aws_mode

        who = aws_mode.require_confirmation(settings, clients.confirm_account)
        result = Plan(where=f"AWS-konto {who.account}, region {who.region}")
        running = True
        target = target_name("aws", who.account, who.region)

    folders = sorted(p for p in credentials_root(target).iterdir() if p.is_dir() and clients.mine(p.name))
    if running is not None:
        _find_cloud(result, clients, recorded={DeviceFiles(f, f.name).record().get("certificate_id") for f in folders})
    result.items += [Item("files", str(f), key=f) for f in folders]
    return result


def _find_cloud(result: Plan, clients: _Clients, recorded: set[str | None]) -> None:
    iot = clients("iot")
    for rule in _pages(iot, "list_topic_rules", "rules"):
        if naming.is_course_rule(rule["ruleName"]) and clients.mine(rule["ruleName"]):
            result.items.append(Item("rule", rule["ruleName"], key=rule["ruleName"]))
    for fn in _optional(lambda: list(_pages(clients("lambda"), "list_functions", "Functions")), result, "Lambda"):
        if naming.is_course_function(fn["FunctionName"]) and clients.mine(fn["FunctionName"]):
            result.items.append(Item("function", fn["FunctionName"], key=fn["FunctionName"]))
    prefix = naming.lambda_log_group(naming.PREFIX)
    for group in _optional(lambda: list(_pages(clients("logs"), "describe_log_groups", "logGroups",
                                               logGroupNamePrefix=prefix)), result, "CloudWatch Logs"):
        if naming.is_course_log_group(group["logGroupName"]) and clients.mine(group["logGroupName"]):
            result.items.append(Item("log_group", group["logGroupName"], key=group["logGroupName"]))
    for table in _optional(lambda: list(_pages(clients("dynamodb"), "list_tables", "TableNames")), result, "DynamoDB"):
        if naming.is_course_table(table) and clients.mine(table):
            result.items.append(Item("table", table, key=table))

    for role in _optional(lambda: list(_pages(clients("iam"), "list_roles", "Roles")), result, "IAM"):
        if naming.is_course_role(role["RoleName"]) and clients.mine(role["RoleName"]):
            result.items.append(Item("role", role["RoleName"], key=role["RoleName"]))

    things = [t["thingName"] for t in _pages(iot, "list_things", "things", attributeName=naming.THING_ATTRIBUTE,
                                               attributeValue=naming.THING_ATTRIBUTE_VALUE)
              if naming.is_course_thing(t.get("attributes")) and clients.mine(t["thingName"])]
    for thing in things:
        result.items += _shadows(clients("iot-data"), thing)

    policies = [p["policyName"] for p in _pages(iot, "list_policies", "policies")
                if naming.is_course_policy(p["policyName"]) and clients.mine(p["policyName"])]
    cert_arns: dict[str, None] = {}
    for policy in policies:
        for target in _pages(iot, "list_targets_for_policy", "targets", policyName=policy):
            if ":cert/" in target:
                cert_arns[target] = None
    for cert_id in recorded - {None}:
        try:
            desc = iot.describe_certificate(certificateId=cert_id)["certificateDescription"]
        except iot.exceptions.ResourceNotFoundException:
            continue
        cert_arns[desc["certificateArn"]] = None
    for arn in cert_arns:
        cert_id = arn.rsplit("/", 1)[-1]
        try:
            status = iot.describe_certificate(certificateId=cert_id)["certificateDescription"]["status"]
        except iot.exceptions.ResourceNotFoundException:
            continue
        result.items.append(Item("certificate", cert_id[:12] + "…", status, key=arn))
    result.items += [Item("policy", p, key=p) for p in policies]
    result.items += [Item("thing", t, key=t) for t in things]


def _optional(list_fn: Callable[[], list[Any]], result: Plan, service: str) -> list[Any]:
    """Lambda and DynamoDB: list them, but a learner without those rights still gets the rest."""
    try:
        return list_fn()
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        from kurs import aws_mode

        if _code(exc) not in aws_mode.DENIED_CODES:
            course_error = aws_mode.translate(exc)
            if course_error is None:
                raise
            raise course_error from exc
        result.notes.append(f"Kunne ikke se etter {service}-ressurser ({_code(exc) or exc}); de er ikke med.")
        return []


def _shadows(iot_data: Any, thing: str) -> list[Item]:
    found = []
    try:
        iot_data.get_thing_shadow(thingName=thing)
        found.append(Item("shadow", thing, "klassisk skygge", key=(thing, None)))
    except iot_data.exceptions.ResourceNotFoundException:
        pass
    try:
        names = iot_data.list_named_shadows_for_thing(thingName=thing).get("results", [])
    except iot_data.exceptions.ResourceNotFoundException:
        names = []
    found += [Item("shadow", f"{thing}/{name}", "navngitt skygge", key=(thing, name)) for name in names]
    return found


# --- removing ----------------------------------------------------------------------------
def clean(*, dry_run: bool = False, settings: config.Settings | None = None, confirm_account: str | None = None,
          verbose: bool = True, prefix: str | None = None) -> Result:
    """Remove what the course made (or, with dry_run, only list it). Idempotent. ``prefix``: only
    what one room learner made (``kurs rydd --prefiks ida``), e.g. with a room learner's own key."""
    from kurs import aws_mode

    settings = settings or config.load()
    clients = _Clients(settings, confirm_account, prefix)
    with aws_mode.friendly_errors(settings):
        found = _plan(settings, clients)
        result = Result(found, dry_run)
        if not dry_run:
            for item in found.items:
                try:
                    if _REMOVERS[item.kind](clients, item):
                        result.removed.append(item)
                except CourseError:
                    raise
                except Exception as exc:  # one stubborn resource must not stop the rest
                    if aws_mode.translate(exc, settings) is not None:
                        raise
                    result.errors.append(f"{KINDS[item.kind][0]} {item.label()}: {_code(exc) or exc}")
    if verbose:
        if dry_run:
            print(found)
        print(result.summary())
    return result


def _gone(exc: Exception) -> bool:
    return _code(exc) in ("ResourceNotFoundException", "ResourceNotFound")


def _remove_rule(clients: _Clients, item: Item) -> bool:
    try:
        clients("iot").delete_topic_rule(ruleName=item.key)
    except Exception as exc:
        if _gone(exc):
            return False
        raise
    return True


def _remove_function(clients: _Clients, item: Item) -> bool:
    try:
        clients("lambda").delete_function(FunctionName=item.key)
    except Exception as exc:
        if _gone(exc):
            return False
        raise
    return True


def _remove_log_group(clients: _Clients, item: Item) -> bool:
    try:
        clients("logs").delete_log_group(logGroupName=item.key)
    except Exception as exc:
        if _gone(exc):
            return False
        raise
    return True


def _remove_table(clients: _Clients, item: Item) -> bool:
    try:
        clients("dynamodb").delete_table(TableName=item.key)
    except Exception as exc:
        if _gone(exc):
            return False
        raise
    return True


def _remove_role(clients: _Clients, item: Item) -> bool:
    iam = clients("iam")
    try:
        for name in list(_pages(iam, "list_role_policies", "PolicyNames", RoleName=item.key)):
            iam.delete_role_policy(RoleName=item.key, PolicyName=name)
        for policy in list(_pages(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=item.key)):
            iam.detach_role_policy(RoleName=item.key, PolicyArn=policy["PolicyArn"])
        iam.delete_role(RoleName=item.key)
    except Exception as exc:
        if _code(exc) == "NoSuchEntity":
            return False
        raise
    return True


def _remove_shadow(clients: _Clients, item: Item) -> bool:
    thing, name = item.key
    iot_data = clients("iot-data")
    try:
        if name is None:
            iot_data.delete_thing_shadow(thingName=thing)
        else:
            iot_data.delete_thing_shadow(thingName=thing, shadowName=name)
    except iot_data.exceptions.ResourceNotFoundException:
        return False
    return True


def _remove_certificate(clients: _Clients, item: Item) -> bool:
    from kurs.provisioning.setup import retire_certificate

    iot = clients("iot")
    try:
        retire_certificate(iot, item.key)
    except iot.exceptions.ResourceNotFoundException:
        return False
    return True


def _remove_policy(clients: _Clients, item: Item) -> bool:
    iot = clients("iot")
    try:
        for target in list(_pages(iot, "list_targets_for_policy", "targets", policyName=item.key)):
            iot.detach_policy(policyName=item.key, target=target)
        for version in iot.list_policy_versions(policyName=item.key)["policyVersions"]:
            if not version["isDefaultVersion"]:
                iot.delete_policy_version(policyName=item.key, policyVersionId=version["versionId"])
        iot.delete_policy(policyName=item.key)
    except iot.exceptions.ResourceNotFoundException:
        return False
    return True


def _remove_thing(clients: _Clients, item: Item) -> bool:
    iot = clients("iot")
    try:
        for principal in list(_pages(iot, "list_thing_principals", "principals", thingName=item.key)):
            iot.detach_thing_principal(thingName=item.key, principal=principal)  # not ours: detached, kept
        iot.delete_thing(thingName=item.key)
    except iot.exceptions.ResourceNotFoundException:
        return False
    return True


def _remove_files(clients: _Clients, item: Item) -> bool:
    path = Path(item.key)
    if not path.exists():
        return False
    shutil.rmtree(path)
    return True


_REMOVERS: dict[str, Callable[[_Clients, Item], bool]] = {
    "rule": _remove_rule, "function": _remove_function, "log_group": _remove_log_group, "table": _remove_table,
    "role": _remove_role,
    "shadow": _remove_shadow,
    "certificate": _remove_certificate, "policy": _remove_policy, "thing": _remove_thing, "files": _remove_files,
}


def remove(kind: str, name: str, client: Callable[[str], Any]) -> bool:
    """Remove one resource of ``kind`` ("function", "log_group", "table", "role", …) by name, with the
    clients ``client(service)`` gives (e.g. a room's, kurs.room.classroom); False if it was gone."""
    return _REMOVERS[kind](client, Item(kind, name, key=name))  # type: ignore[arg-type]


def pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
    """Every item under ``key`` in all pages of ``operation``."""
    return _pages(client, operation, key, **kwargs)
