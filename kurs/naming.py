"""How the course names (and so recognises) what it creates in AWS IoT, Lambda and DynamoDB.

Cleanup (``kurs rydd``) removes exactly what these rules match and nothing else, so every
part of kurs that creates a cloud resource takes its name from here:

| resource           | rule                                         | example                 |
|--------------------|----------------------------------------------|-------------------------|
| IoT policy         | ``kurs-`` + thing name                       | ``kurs-esp32_F7F2AD``   |
| topic rule         | ``kurs_`` + name (rules allow only a-z, 0-9, _) | ``kurs_lagre_tilstand`` |
| Lambda function    | ``kurs-`` + name                             | ``kurs-veksle-lys``     |
| DynamoDB table     | ``kurs-`` + name                             | ``kurs-tilstand``       |
| IAM role           | ``kurs-`` + name                             | ``kurs-lambda-rolle``   |
| Lambda log group   | ``/aws/lambda/`` + a course function's name  | ``/aws/lambda/kurs-veksle-lys`` |
| thing              | its own name (the device id), marked with the attribute ``created_by=kurs`` |   |
| notebook's thing   | ``kurs-notatbok`` (aws mode: the notebook's own MQTT identity), marked the same |  |
| certificate        | has a ``kurs-`` policy attached, or is recorded in the local credentials |     |
"""

from __future__ import annotations

import re

from kurs.errors import CourseError

PREFIX = "kurs-"
RULE_PREFIX = "kurs_"
# Things keep the device's own name (it is the MQTT client id); this attribute marks ours.
THING_ATTRIBUTE = "created_by"
THING_ATTRIBUTE_VALUE = "kurs"
# In aws mode the notebook itself connects to AWS IoT as this thing (kurs.provisioning.notebook).
NOTEBOOK_THING = PREFIX + "notatbok"
# Where AWS Lambda writes a function's logs (CloudWatch Logs); the group outlives the function.
LAMBDA_LOG_GROUP_PREFIX = "/aws/lambda/"

_THING_NAME = re.compile(r"^[a-zA-Z0-9:_-]{1,128}$")
_RULE_NAME = re.compile(r"^[a-zA-Z0-9_]{1,128}$")
_FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_TABLE_NAME = re.compile(r"^[a-zA-Z0-9_.-]{3,255}$")
_POLICY_NAME = re.compile(r"^[\w+=,.@-]{1,128}$")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")


def _named(prefix: str, base: str, pattern: re.Pattern[str], kind: str, allowed: str) -> str:
    name = base if base.startswith(prefix) else prefix + base
    if not pattern.match(name):
        raise CourseError(f"«{name}» kan ikke brukes som navn på {kind}.", f"Bruk bare {allowed}.")
    return name


def check_thing_name(thing_name: str) -> str:
    """A valid AWS IoT thing name (it is also the MQTT client id), or a Norwegian error."""
    if not isinstance(thing_name, str) or not _THING_NAME.match(thing_name):
        raise CourseError(f"«{thing_name}» kan ikke brukes som navn på en ting (thing).",
                          "Bruk bare bokstavene a–z og A–Z, sifre, bindestrek, understrek og kolon "
                          "(høyst 128 tegn), for eksempel «esp32_F7F2AD».")
    return thing_name


def policy_name(thing_name: str) -> str:
    """The least-privilege policy provisioning makes for one thing."""
    return _named(PREFIX, thing_name, _POLICY_NAME, "en IoT-policy",
                  "bokstaver, sifre og tegnene _ + = , . @ - (høyst 128 tegn)")


def rule_name(base: str) -> str:
    """A topic rule's name: ``kurs_`` + base (rule names allow only letters, digits and _)."""
    return _named(RULE_PREFIX, base, _RULE_NAME, "en regel (topic rule)",
                  "bokstavene a–z og A–Z, sifre og understrek _ (ikke bindestrek eller mellomrom)")


def function_name(base: str) -> str:
    """A Lambda function's name: ``kurs-`` + base."""
    return _named(PREFIX, base, _FUNCTION_NAME, "en Lambda-funksjon",
                  "bokstaver, sifre, bindestrek og understrek (høyst 64 tegn)")


def table_name(base: str) -> str:
    """A DynamoDB table's name: ``kurs-`` + base."""
    return _named(PREFIX, base, _TABLE_NAME, "en DynamoDB-tabell",
                  "bokstaver, sifre og tegnene _ - . (3 til 255 tegn)")


def role_name(base: str) -> str:
    """An IAM role's name (for Lambda and rule actions): ``kurs-`` + base."""
    return _named(PREFIX, base, _ROLE_NAME, "en IAM-rolle", "bokstaver, sifre og tegnene _ + = , . @ - (høyst 64 tegn)")


def lambda_log_group(function: str) -> str:
    """The CloudWatch Logs group AWS Lambda writes ``function``'s logs to."""
    return LAMBDA_LOG_GROUP_PREFIX + function


def thing_attributes() -> dict[str, str]:
    """The attributes that mark a thing as the course's (``attributePayload`` for create_thing)."""
    return {THING_ATTRIBUTE: THING_ATTRIBUTE_VALUE}


def is_course_policy(name: str) -> bool:
    return name.startswith(PREFIX)


def is_course_rule(name: str) -> bool:
    return name.startswith(RULE_PREFIX)


def is_course_function(name: str) -> bool:
    return name.startswith(PREFIX)


def is_course_table(name: str) -> bool:
    return name.startswith(PREFIX)


def is_course_role(name: str) -> bool:
    return name.startswith(PREFIX)


def is_course_log_group(name: str) -> bool:
    """A Lambda log group of a course function (``/aws/lambda/kurs-…``)."""
    return name.startswith(LAMBDA_LOG_GROUP_PREFIX) and is_course_function(name[len(LAMBDA_LOG_GROUP_PREFIX):])


def is_course_thing(attributes: dict[str, str] | None) -> bool:
    return (attributes or {}).get(THING_ATTRIBUTE) == THING_ATTRIBUTE_VALUE
