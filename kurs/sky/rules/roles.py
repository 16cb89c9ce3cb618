"""What AWS IoT checks before it acts with a rule's role (``roleArn``), against moto's IAM.

AWS IoT assumes the role (its trust policy must let the service principal
``iot.amazonaws.com`` call ``sts:AssumeRole``) and then acts with the role's permissions (its
inline and attached policies must allow the action on the resource, and no statement may deny
it). See the developer guide, "Granting an AWS IoT rule the access it requires"
(https://docs.aws.amazon.com/iot/latest/developerguide/iot-create-role.html).

Mirrored here as far as is practical: Allow/Deny with ``Action``/``NotAction`` and
``Resource``/``NotResource`` (``*`` and ``?`` wildcards, case-insensitive actions); statements
with a ``Condition`` are applied as if the condition held (nothing here can evaluate it), which
errs towards allowing. Answers are Norwegian reasons (None when allowed), for the cloud log.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any
from urllib.parse import unquote

IOT_SERVICE = "iot.amazonaws.com"


def _document(text: Any) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    text = str(text or "")
    try:
        return json.loads(text)
    except ValueError:
        return json.loads(unquote(text))  # documents may arrive URL-encoded


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in _listed(document.get("Statement")) if isinstance(s, dict)]


def _matches(patterns: list[Any], value: str, *, case_sensitive: bool) -> bool:
    if case_sensitive:
        return any(fnmatch.fnmatchcase(value, str(p)) for p in patterns)
    return any(fnmatch.fnmatchcase(value.lower(), str(p).lower()) for p in patterns)


def _applies(statement: dict[str, Any], action: str, resource: str) -> bool:
    if "NotAction" in statement:
        action_ok = not _matches(_listed(statement["NotAction"]), action, case_sensitive=False)
    else:
        action_ok = _matches(_listed(statement.get("Action")), action, case_sensitive=False)
    if "NotResource" in statement:
        resource_ok = not _matches(_listed(statement["NotResource"]), resource, case_sensitive=True)
    else:
        resource_ok = _matches(_listed(statement.get("Resource")), resource, case_sensitive=True)
    return action_ok and resource_ok


def _trusts(document: dict[str, Any], service: str) -> bool:
    for statement in _statements(document):
        principal = statement.get("Principal")
        services = _listed(principal.get("Service")) if isinstance(principal, dict) else _listed(principal)
        actions = _listed(statement.get("Action"))
        if (statement.get("Effect") == "Allow" and (service in services or "*" in services)
                and _matches(actions, "sts:AssumeRole", case_sensitive=False)):
            return True
    return False


def _role(role_arn: str) -> Any:
    from moto.iam.models import iam_backends

    parts = role_arn.split(":")
    if len(parts) < 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return None
    try:
        return iam_backends[parts[4]][parts[1] or "aws"].get_role_by_arn(role_arn)
    except Exception:  # NotFoundException, or an account moto has never seen
        return None


def _permission_documents(role: Any) -> list[tuple[str, dict[str, Any]]]:
    documents = [(f"inline-policyen «{name}»", _document(text)) for name, text in role.policies.items()]
    for policy in role.managed_policies.values():
        for version in getattr(policy, "versions", []):
            if version.is_default_version:
                documents.append((f"policyen «{policy.name}»", _document(version.document)))
    return documents


def refusal(role_arn: str, action: str, resource: str, *, service: str = IOT_SERVICE) -> str | None:
    """Why AWS IoT could not do ``action`` on ``resource`` with this role (Norwegian), or None."""
    role = _role(role_arn)
    if role is None:
        return f"rollen {role_arn} finnes ikke i IAM"
    try:
        trusted = _trusts(_document(role.assume_role_policy_document), service)
    except ValueError:
        trusted = False
    if not trusted:
        return (f"rollen «{role.name}» kan ikke antas av {service}: tillitspolicyen (AssumeRolePolicyDocument) "
                f"må tillate sts:AssumeRole for Principal {{\"Service\": \"{service}\"}}")
    allowed = False
    for where, document in _permission_documents(role):
        for statement in _statements(document):
            if not _applies(statement, action, resource):
                continue
            if statement.get("Effect") == "Deny":
                return f"{where} på rollen «{role.name}» nekter {action} på {resource} (Deny)"
            allowed = allowed or statement.get("Effect") == "Allow"
    if not allowed:
        return (f"ingen policy på rollen «{role.name}» tillater {action} på {resource}; "
                "legg til en policy med den handlingen (iam.put_role_policy eller attach_role_policy)")
    return None
