"""The IAM policies in kurs.iam_policy allow every AWS call the course's code makes.

The calls are read from the source: ``<client>.<method>`` where the client is bound by
``x = ….client("svc")`` / ``clients("svc")`` in the same file or has one of the course's
usual names (``iot``, ``iot_data``, ``iam``, ``lam``, …), paginators, waiters, ``_pages(client,
"operation")``, and ``!aws <service> <command>`` lines in the notebooks. botocore's own service
models turn a method into its API operation, and so into the IAM action.
"""

from __future__ import annotations

import ast
import json
import re
from functools import cache
from pathlib import Path

import pytest

from kurs import iam_policy
from kurs.paths import REPO_DIR

# The names the course's code gives its clients (function parameters carry no binding).
CONVENTION = {"iot": "iot", "iot_data": "iot-data", "iam": "iam", "lam": "lambda", "awslambda": "lambda",
              "dynamodb": "dynamodb", "logs": "logs", "sts": "sts"}
IAM_PREFIX = {"iot-data": "iot"}  # AWS IoT's data plane is authorised as iot:…
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}  # AWS: "No permissions are required"
TAGGING = {"iam": "iam:TagRole", "lambda": "lambda:TagResource", "dynamodb": "dynamodb:TagResource"}
PASSES_A_ROLE = {("lambda", "create_function"), ("lambda", "update_function_configuration"),
                 ("iot", "create_topic_rule"), ("iot", "replace_topic_rule")}

# Code that only runs once notebook 06's policy is added; everything else needs notebook 01's alone.
SERVERLESS_ONLY = {"kurs/serverless.py", "notebooks/kilde/06-serverless.py"}
# The local cloud itself, and notebook 01 (it creates the IAM user: an administrator's job on AWS);
# the instructor's side of a room (the room's cloud, its tools, and the aws-mode script that makes the
# learners' IAM users; kurs/room/aws_room.py has its own least-privilege policy per learner).
NOT_LEARNER_CALLS = ("kurs/sky/", "notebooks/kilde/00-", "notebooks/kilde/01-", "kurs/room/host.py",
                     "kurs/room/classroom.py", "kurs/room/aws_room.py")


@cache
def _client(service: str):  # noqa: ANN202 - a botocore client, only for its model (no request is made)
    import boto3

    return boto3.session.Session(region_name="eu-west-1", aws_access_key_id="x",
                                 aws_secret_access_key="y").client(service)


def _action(service: str, method: str) -> str | None:
    client = _client(service)
    operation = client.meta.method_to_api_mapping.get(method)
    return f"{IAM_PREFIX.get(service, service)}:{operation}" if operation else None


def _string(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _named_client(node: ast.AST) -> str | None:
    """``….client("svc")`` or ``clients("svc")``."""
    if isinstance(node, ast.Call) and node.args:
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in ("client", "clients"):
            return _string(node.args[0])
    return None


def _python_source(path: Path) -> str:
    """The file's Python: for a notebook its code cells, without cell magics (%%mjs …) and shell lines."""
    if not path.is_relative_to(REPO_DIR / "notebooks"):
        return path.read_text()
    import jupytext

    cells = [c.source for c in jupytext.read(path).cells if c.cell_type == "code" and not c.source.startswith("%%")]
    return "\n".join(re.sub(r"^(\s*)!.*", r"\1pass", line) for cell in cells for line in cell.splitlines())


def _calls(path: Path) -> set[tuple[str, str]]:
    """(service, IAM action) for every AWS call in one file."""
    tree = ast.parse(_python_source(path))
    bound = dict(CONVENTION)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            service = _named_client(node.value)
            if service:
                bound[node.targets[0].id] = service

    def service_of(expr: ast.AST) -> str | None:
        return bound.get(expr.id) if isinstance(expr, ast.Name) else _named_client(expr)

    def method_of(expr: ast.AST) -> tuple[str, str] | None:
        if isinstance(expr, ast.Attribute) and (service := service_of(expr.value)):
            if _action(service, expr.attr):
                return service, expr.attr
        return None

    found: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if (hit := method_of(node)) is not None:  # also a method passed on, e.g. retry(lam.create_function, …)
            found.add(hit)
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("get_paginator", "get_waiter") and node.args:
            service, name = service_of(func.value), _string(node.args[0])
            if service and name:
                found.add((service, name if func.attr == "get_paginator" else _waiter_method(service, name)))
        if getattr(func, "id", "") == "_pages" and len(node.args) >= 2:
            service, name = service_of(node.args[0]), _string(node.args[1])
            if service and name:
                found.add((service, name))
        if any(k.arg == "Tags" for k in node.keywords):  # tagging on create is a permission of its own
            for target in [func, *node.args]:
                if (hit := method_of(target)) is not None and hit[0] in TAGGING:
                    found.add((hit[0], "@" + TAGGING[hit[0]]))
    actions = set()
    for service, method in found:
        if method.startswith("@"):
            actions.add((service, method[1:]))
            continue
        action = _action(service, method)
        assert action, f"{path}: {service}.{method} is not a boto3 method"
        actions.add((service, action))
        if (service, method) in PASSES_A_ROLE:
            actions.add(("iam", "iam:PassRole"))
    for command in re.findall(r"^\s*!.*?\baws\s+([a-z0-9-]+)\s+([a-z0-9-]+)", path.read_text(), re.MULTILINE):
        service, method = command[0], command[1].replace("-", "_")
        actions.add((service, _action(service, method) or f"{service}:?{command[1]}"))
    return actions


def _waiter_method(service: str, waiter: str) -> str:
    operation = _client(service).get_waiter(waiter).config.operation
    return next(m for m, op in _client(service).meta.method_to_api_mapping.items() if op == operation)


def _sources() -> list[Path]:
    files = sorted(REPO_DIR.glob("kurs/**/*.py")) + sorted(REPO_DIR.glob("notebooks/kilde/*.py"))
    return [f for f in files if not str(f.relative_to(REPO_DIR)).startswith(NOT_LEARNER_CALLS)]


@cache
def _all_calls() -> dict[str, set[str]]:
    return {str(f.relative_to(REPO_DIR)): {a for _, a in _calls(f)} - NEEDS_NO_PERMISSION for f in _sources()}


def test_the_scan_finds_the_calls_we_know_are_there():
    calls = _all_calls()
    assert {"iot:CreateCertificateFromCsr", "iot:AttachThingPrincipal"} <= calls["kurs/provisioning/setup.py"]
    assert {"iam:ListRoles", "logs:DescribeLogGroups", "logs:DeleteLogGroup", "lambda:ListFunctions",
            "dynamodb:ListTables", "iot:ListTopicRules", "iot:DeleteThingShadow"} <= calls["kurs/cleanup.py"]
    assert {"lambda:CreateFunction", "lambda:GetFunction", "dynamodb:DescribeTable", "iam:PassRole",
            "lambda:TagResource", "dynamodb:Query"} <= calls["kurs/serverless.py"]
    assert "iot:ListThings" in calls["notebooks/kilde/03-mongoose-os.py"]  # !aws iot list-things
    assert "logs:FilterLogEvents" in calls["notebooks/kilde/06-serverless.py"]


@pytest.mark.parametrize("source", sorted(_all_calls()))
def test_every_call_is_allowed_by_the_notebook_policies(source):
    policies = [iam_policy.course_policy()]
    if source in SERVERLESS_ONLY:
        policies.append(iam_policy.serverless_policy())
    missing = sorted(a for a in _all_calls()[source] if not iam_policy.allows(a, *policies))
    assert not missing, f"{source} calls {missing}, which kurs.iam_policy does not allow"


def test_the_policies_allow_nothing_the_course_does_not_call():
    called = set().union(*_all_calls().values())
    unused = sorted(a for a in iam_policy.actions(iam_policy.course_policy(), iam_policy.serverless_policy())
                    if not any(re.fullmatch(a.replace("*", ".*"), c, re.IGNORECASE) for c in called))
    assert unused == [], f"allowed but never called: {unused}"


def test_the_policies_fit_aws_size_limits():
    # A managed policy holds at most 6 144 characters, a user's inline policies 2 048 (spaces not counted).
    assert len(re.sub(r"\s", "", json.dumps(iam_policy.course_policy()))) <= 6144
    assert len(re.sub(r"\s", "", json.dumps(iam_policy.serverless_policy()))) <= 2048


def test_the_printed_text_is_the_policy():
    for policy in (iam_policy.course_policy(), iam_policy.serverless_policy()):
        assert json.loads(iam_policy.text(policy)) == policy
