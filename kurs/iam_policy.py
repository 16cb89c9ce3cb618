"""The IAM permissions a learner's AWS user needs for the course: one list, shown by notebooks 01 and 06.

    print(kurs.iam_policy.text(kurs.iam_policy.course_policy()))       # notebook 01: the user's policy
    print(kurs.iam_policy.text(kurs.iam_policy.serverless_policy()))   # notebook 06: added for Lambda

``course_policy`` covers notebooks 02–05 and 07 and ``kurs rydd`` (which must be able to find
and delete what notebook 06 made, even for a learner who never added the second policy);
``serverless_policy`` adds creating IAM roles and handing them to Lambda and AWS IoT.
tests/test_iam_policy_covers_calls.py reads every boto3 call in ``kurs/`` and in the notebooks
and checks that each one is allowed here, so the list follows the code.

Least privilege where AWS allows it: the region is locked to eu-west-1, Lambda functions,
tables, log groups and roles are limited to the course's names (kurs.naming). List calls and
AWS IoT's control plane do not support resource-level limits everywhere, so those are ``*``
in the region. IAM is global (its calls are made in us-east-1), so IAM statements are
limited by role name instead of region.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

REGION = "eu-west-1"

IOT_ACTIONS = [
    # registry: things, certificates, policies (provisioning, notebooks 03 and 07)
    "iot:DescribeEndpoint", "iot:ListThings", "iot:CreateThing", "iot:DescribeThing", "iot:DeleteThing",
    "iot:CreateCertificateFromCsr", "iot:DescribeCertificate", "iot:UpdateCertificate",
    "iot:DeleteCertificate", "iot:ListCertificates",
    "iot:CreatePolicy", "iot:GetPolicy", "iot:DeletePolicy", "iot:ListPolicies", "iot:CreatePolicyVersion",
    "iot:ListPolicyVersions", "iot:DeletePolicyVersion", "iot:AttachPolicy", "iot:DetachPolicy",
    "iot:ListAttachedPolicies", "iot:ListTargetsForPolicy",
    "iot:AttachThingPrincipal", "iot:DetachThingPrincipal", "iot:ListThingPrincipals",
    "iot:ListPrincipalThings",
    # rules (notebook 06) and the data plane over HTTPS: shadows and publish (notebooks 05–07)
    "iot:CreateTopicRule", "iot:ReplaceTopicRule", "iot:GetTopicRule", "iot:ListTopicRules",
    "iot:DeleteTopicRule",
    "iot:GetThingShadow", "iot:UpdateThingShadow", "iot:DeleteThingShadow", "iot:ListNamedShadowsForThing",
    "iot:Publish",
]
FUNCTION_AND_TABLE_ACTIONS = [
    "lambda:CreateFunction", "lambda:UpdateFunctionCode", "lambda:GetFunction", "lambda:DeleteFunction",
    "lambda:AddPermission",
    "dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:DeleteTable", "dynamodb:Scan", "dynamodb:Query",
]
# kurs rydd: find the course's resources among all of them (these calls take no resource limit)
LIST_ACTIONS = ["lambda:ListFunctions", "dynamodb:ListTables", "logs:DescribeLogGroups"]
LOG_ACTIONS = ["logs:DeleteLogGroup", "logs:FilterLogEvents"]
ROLE_CLEANUP_ACTIONS = ["iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:DeleteRolePolicy",
                        "iam:DetachRolePolicy", "iam:DeleteRole"]

# notebook 06 on top: roles for Lambda and the rules, and the rest of a function's life cycle
ROLE_ACTIONS = ["iam:CreateRole", "iam:GetRole", "iam:TagRole", "iam:PutRolePolicy", "iam:GetRolePolicy"]
MORE_SERVERLESS_ACTIONS = ["lambda:UpdateFunctionConfiguration", "lambda:RemovePermission", "lambda:GetPolicy", "lambda:TagResource",
                           "dynamodb:TagResource"]


def _in_region(region: str) -> dict[str, Any]:
    return {"StringEquals": {"aws:RequestedRegion": region}}


def _course_resources(region: str) -> list[str]:
    return [f"arn:aws:lambda:{region}:*:function:kurs-*",
            f"arn:aws:dynamodb:{region}:*:table/kurs-*"]


ROLES = "arn:aws:iam::*:role/kurs-*"


def course_policy(region: str = REGION) -> dict[str, Any]:
    """The learner's IAM user policy (notebook 01): everything but creating roles."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "IoTForKurset", "Effect": "Allow", "Action": IOT_ACTIONS, "Resource": "*",
             "Condition": _in_region(region)},
            {"Sid": "ServerlessForKurset", "Effect": "Allow", "Action": FUNCTION_AND_TABLE_ACTIONS,
             "Resource": _course_resources(region)},
            {"Sid": "LoggerForKurset", "Effect": "Allow", "Action": LOG_ACTIONS,
             "Resource": f"arn:aws:logs:{region}:*:log-group:/aws/lambda/kurs-*"},
            {"Sid": "FinnKursetsRessurser", "Effect": "Allow", "Action": LIST_ACTIONS, "Resource": "*",
             "Condition": _in_region(region)},
            {"Sid": "FinnKursetsRoller", "Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"},
            {"Sid": "RyddKursetsRoller", "Effect": "Allow", "Action": ROLE_CLEANUP_ACTIONS, "Resource": ROLES},
        ],
    }


def serverless_policy(region: str = REGION) -> dict[str, Any]:
    """What notebook 06 adds (an inline policy on the same user): roles, and handing them over."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "RollerForKurset", "Effect": "Allow", "Action": ROLE_ACTIONS, "Resource": ROLES},
            {"Sid": "GiRollerTilLambdaOgIoT", "Effect": "Allow", "Action": "iam:PassRole", "Resource": ROLES,
             "Condition": {"StringEquals": {"iam:PassedToService": ["lambda.amazonaws.com", "iot.amazonaws.com"]}}},
            {"Sid": "MerServerless", "Effect": "Allow", "Action": MORE_SERVERLESS_ACTIONS,
             "Resource": _course_resources(region)},
        ],
    }


def actions(*policies: dict[str, Any]) -> set[str]:
    """Every action the policies' Allow statements name (wildcards as written)."""
    found: set[str] = set()
    for policy in policies:
        for statement in policy["Statement"]:
            if statement.get("Effect") == "Allow":
                listed = statement["Action"]
                found.update([listed] if isinstance(listed, str) else listed)
    return found


def allows(action: str, *policies: dict[str, Any]) -> bool:
    """Does any Allow statement name ``action`` (IAM's ``*`` wildcards; actions ignore case)?"""
    return any(fnmatch.fnmatchcase(action.lower(), listed.lower()) for listed in actions(*policies))


def text(policy: dict[str, Any], width: int = 100) -> str:
    """The JSON to paste into the IAM console: one statement at a time, action lists wrapped."""

    def value(v: Any, indent: int) -> str:
        if not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            return json.dumps(v)
        lines, line = [], "["
        for i, item in enumerate(v):
            piece = json.dumps(item) + ("," if i < len(v) - 1 else "]")
            if len(line) + len(piece) + (0 if lines else indent) > width and line != "[":
                lines.append(line.rstrip())
                line = " " * (indent + 1)
            line += piece + " "
        return "\n".join([*lines, line.rstrip()])

    statements = []
    for statement in policy["Statement"]:
        fields = [f'      {json.dumps(k)}: {value(v, 8 + len(k) + 2)}' for k, v in statement.items()]
        statements.append("    {\n" + ",\n".join(fields) + "\n    }")
    return ('{\n  "Version": ' + json.dumps(policy["Version"]) + ',\n  "Statement": [\n'
            + ",\n".join(statements) + "\n  ]\n}")
