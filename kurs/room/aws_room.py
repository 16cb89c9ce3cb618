"""The same per-learner structure on a real AWS account (aws mode), for rooms beyond one laptop.

``kurs rom aws lag Ida Ola … --bekreft-konto 123456789012`` gives each learner, in the account
the instructor confirmed:

- an IAM user ``kurs-rom-<prefix>`` with one access key (saved for the instructor to hand out in
  ``rom-aws/<prefix>.json`` under KURS_HOME, 0600; never printed);
- a managed IAM policy ``kurs-rom-<prefix>`` that allows the course's calls only on resources named
  with the learner's prefix (things ``<prefix>-*``, rules ``kurs_<prefix>_*``, functions, tables, log
  groups and roles ``kurs-<prefix>-*``), with the same policy as the permissions boundary every role
  the learner creates must carry, so a role cannot hand out more than the learner has;
- an IoT policy ``kurs-<prefix>-rom`` for the learner's devices (kurs.room.device_policy: the course's
  least-privilege policy with the pair space ``kurs/par/*``), made by the instructor: learners may
  attach it, not write IoT policies of their own, since IAM cannot limit what an IoT policy says.

``kurs rom aws fjern …`` removes all of it again; each learner runs ``kurs rydd --prefiks <prefix>``
first (their things, certificates, rules …). Where AWS has no resource-level limit (creating a
certificate from a CSR, listing things, describing a certificate by id), the statement is ``*``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kurs.paths import private_dir, write_private
from kurs.room import device_policy
from kurs.room.names import slug as make_slug

USER_PREFIX = "kurs-rom-"
PATH = "/kurs-rom/"


def iot_policy_name(slug: str) -> str:
    return f"kurs-{slug}-rom"


def learner_policy(slug: str, region: str, account: str) -> dict[str, Any]:
    """The learner's IAM policy (and the boundary of the roles the learner makes)."""
    iot = f"arn:aws:iot:{region}:{account}"
    own = f"kurs-{slug}-*"
    boundary = f"arn:aws:iam::{account}:policy{PATH}{USER_PREFIX}{slug}"
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "EgneTing", "Effect": "Allow", "Resource": f"{iot}:thing/{slug}-*",
         "Action": ["iot:CreateThing", "iot:DescribeThing", "iot:DeleteThing", "iot:UpdateThing",
                    "iot:AttachThingPrincipal", "iot:DetachThingPrincipal", "iot:ListThingPrincipals",
                    "iot:GetThingShadow", "iot:UpdateThingShadow", "iot:DeleteThingShadow",
                    "iot:ListNamedShadowsForThing"]},
        {"Sid": "RommetsIotPolicy", "Effect": "Allow", "Resource": f"{iot}:policy/{iot_policy_name(slug)}",
         "Action": ["iot:GetPolicy", "iot:AttachPolicy", "iot:DetachPolicy", "iot:ListTargetsForPolicy"]},
        {"Sid": "UtenRessursgrense", "Effect": "Allow", "Resource": "*",
         "Action": ["iot:DescribeEndpoint", "iot:CreateCertificateFromCsr", "iot:ListThings", "iot:ListPolicies",
                    "iot:ListTopicRules", "lambda:ListFunctions", "dynamodb:ListTables", "logs:DescribeLogGroups",
                    "sts:GetCallerIdentity"]},
        {"Sid": "Sertifikater", "Effect": "Allow", "Resource": f"{iot}:cert/*",
         "Action": ["iot:DescribeCertificate", "iot:UpdateCertificate", "iot:DeleteCertificate",
                    "iot:ListAttachedPolicies", "iot:ListPrincipalThings"]},
        {"Sid": "EgneEmner", "Effect": "Allow", "Action": "iot:Publish",
         "Resource": [f"{iot}:topic/kurs/par/*", f"{iot}:topic/devices/{slug}-*",
                      f"{iot}:topic/{device_policy.own_space(slug)}/*"]},
        {"Sid": "EgneRegler", "Effect": "Allow", "Resource": f"{iot}:rule/kurs_{slug}_*",
         "Action": ["iot:CreateTopicRule", "iot:ReplaceTopicRule", "iot:GetTopicRule", "iot:DeleteTopicRule"]},
        {"Sid": "EgneFunksjonerOgTabeller", "Effect": "Allow",
         "Resource": [f"arn:aws:lambda:{region}:{account}:function:{own}",
                      f"arn:aws:dynamodb:{region}:{account}:table/{own}",
                      f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{own}"],
         "Action": ["lambda:CreateFunction", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration",
                    "lambda:GetFunction", "lambda:DeleteFunction", "lambda:AddPermission", "lambda:RemovePermission",
                    "lambda:GetPolicy", "lambda:TagResource", "dynamodb:CreateTable", "dynamodb:DescribeTable",
                    "dynamodb:DeleteTable", "dynamodb:Scan", "dynamodb:Query", "dynamodb:TagResource",
                    "logs:DeleteLogGroup", "logs:FilterLogEvents"]},
        {"Sid": "RollerMedGrense", "Effect": "Allow", "Resource": f"arn:aws:iam::{account}:role/{own}",
         "Action": ["iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy"],
         "Condition": {"StringEquals": {"iam:PermissionsBoundary": boundary}}},
        {"Sid": "EgneRoller", "Effect": "Allow", "Resource": f"arn:aws:iam::{account}:role/{own}",
         "Action": ["iam:GetRole", "iam:TagRole", "iam:GetRolePolicy", "iam:ListRolePolicies",
                    "iam:ListAttachedRolePolicies", "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:DeleteRole",
                    "iam:PassRole"]},
    ]}


def keys_file(slug: str) -> Path:
    return private_dir("rom-aws") / f"{slug}.json"


def _account(confirm_account: str | None) -> tuple[Any, Any, Any, Any]:
    """(settings, the confirmed account, iam, iot): what the instructor's script works with."""
    from kurs import aws_mode, config

    settings = config.load()
    who = aws_mode.require_confirmation(settings, confirm_account)
    iam = aws_mode.client("iam", settings=settings, confirm_account=confirm_account)
    iot = aws_mode.client("iot", settings=settings, confirm_account=confirm_account)
    return settings, who, iam, iot


def _learner_names(name: str, account: str) -> tuple[str, str, str]:
    """(prefix, IAM user and policy name, policy ARN) for one learner."""
    slug = make_slug(name)
    user = USER_PREFIX + slug
    return slug, user, f"arn:aws:iam::{account}:policy{PATH}{user}"


def create_learners(names: list[str], *, confirm_account: str | None = None, quiet: bool = False) -> list[str]:
    """Make each learner's IAM user, policy, access key and IoT policy. Idempotent; returns the prefixes."""
    from kurs import aws_mode
    from kurs.provisioning.device_policy import arn_prefix, wrap

    settings, who, iam, iot = _account(confirm_account)
    made = []
    with aws_mode.friendly_errors(settings):
        for name in names:
            slug, user, arn = _learner_names(name, who.account)
            document = json.dumps(learner_policy(slug, who.region, who.account))
            try:
                iam.create_policy(PolicyName=user, Path=PATH, PolicyDocument=document,
                                  Description=f"kurs-rom: bare {slug}s egne ressurser")
            except iam.exceptions.EntityAlreadyExistsException:
                _replace_default_version(iam, arn, document)
            try:
                iam.create_user(UserName=user, Path=PATH, PermissionsBoundary=arn)
            except iam.exceptions.EntityAlreadyExistsException:
                pass
            iam.attach_user_policy(UserName=user, PolicyArn=arn)
            iot_document = json.dumps(wrap(device_policy.statements(slug)(arn_prefix(who.region, who.account))))
            try:
                iot.create_policy(policyName=iot_policy_name(slug), policyDocument=iot_document)
            except iot.exceptions.ResourceAlreadyExistsException:
                pass
            if not keys_file(slug).exists():
                key = iam.create_access_key(UserName=user)["AccessKey"]
                write_private(keys_file(slug), json.dumps({
                    "navn": name, "prefiks": slug, "region": who.region, "konto": who.account,
                    "aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]},
                    indent=2, ensure_ascii=False))
            made.append(slug)
            if not quiet:
                print(f"• {name}: IAM-bruker {user}, policy {user}, IoT-policy {iot_policy_name(slug)}; "
                      f"nøkkelen ligger i {keys_file(slug)} (gi den bare til {name}).")
    return made


def _replace_default_version(iam: Any, arn: str, document: str) -> None:
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    for version in versions:
        if not version["IsDefaultVersion"] and len(versions) >= 5:
            iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
            break
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=document, SetAsDefault=True)


def remove_learners(names: list[str], *, confirm_account: str | None = None, quiet: bool = False) -> list[str]:
    """Remove what create_learners() made (not the learners' own things: ``kurs rydd --prefiks``)."""
    from kurs import aws_mode

    settings, who, iam, iot = _account(confirm_account)
    removed = []
    with aws_mode.friendly_errors(settings):
        for name in names:
            slug, user, arn = _learner_names(name, who.account)
            try:
                for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
                    iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
                iam.detach_user_policy(UserName=user, PolicyArn=arn)
                iam.delete_user(UserName=user)
            except iam.exceptions.NoSuchEntityException:
                pass
            try:
                for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
                    if not version["IsDefaultVersion"]:
                        iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
                iam.delete_policy(PolicyArn=arn)
            except iam.exceptions.NoSuchEntityException:
                pass
            try:
                for target in iot.list_targets_for_policy(policyName=iot_policy_name(slug))["targets"]:
                    iot.detach_policy(policyName=iot_policy_name(slug), target=target)
                iot.delete_policy(policyName=iot_policy_name(slug))
            except iot.exceptions.ResourceNotFoundException:
                pass
            keys_file(slug).unlink(missing_ok=True)
            removed.append(slug)
            if not quiet:
                print(f"• {name}: IAM-bruker, nøkler, policyer og IoT-policyen {iot_policy_name(slug)} er fjernet.")
    return removed
