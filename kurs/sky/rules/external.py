"""AWS IoT SQL functions that call other services: ``get_thing_shadow()`` and ``aws_lambda()``.

The rules engine hands each evaluation an :class:`ExternalServices` (``Scope.external``); the
local cloud's is in :mod:`kurs.sky.rules.wiring`. A failure (the role may not be assumed or
lacks the permission, no such shadow, the function refuses AWS IoT or fails) raises
:class:`ExternalFunctionError`: the rule is then not carried out and the reason is logged in
Norwegian. As on AWS it does not reach the rule's errorAction, which covers rule actions only
(developer guide, "Error handling (error action)": "To debug SQL issues, including external
functions, you can set up AWS IoT logging").
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from kurs.sky.rules.context import Scope
from kurs.sky.rules.functions import _register
from kurs.sky.rules.values import UNDEFINED, V2016, parse_json, to_json


class ExternalFunctionError(Exception):
    """An external SQL function that failed; ``str()`` is Norwegian, for the cloud log."""

    def __init__(self, function: str, message: str) -> None:
        super().__init__(message)
        self.function = function


class ExternalServices(Protocol):
    def thing_shadow(self, thing_name: str, shadow_name: str | None, role_arn: str) -> Any:
        """The shadow document (JSON bytes or value) read with the role's rights; raises ExternalFunctionError."""

    def call_lambda(self, function_arn: str, event: Any) -> Any:
        """Run the function synchronously and return its (JSON) result; raises ExternalFunctionError."""


def _services(scope: Scope, function: str) -> ExternalServices:
    if scope.external is None:
        raise ExternalFunctionError(function, f"{function}() kan ikke brukes her (for eksempel ikke i en "
                                              "errorAction eller en ${…}-mal), bare i regelens SQL.")
    return scope.external


def _text(value: Any, function: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ExternalFunctionError(function, f"{function}(): {what} må være en tekst, men var {value!r}.")
    return value


@_register("get_thing_shadow", 2, 3, since=V2016)
def get_thing_shadow(scope: Scope, thing_name: Any, *rest: Any) -> Any:
    """get_thing_shadow(thingName, [shadowName,] roleArn): the (named) shadow of a thing."""
    shadow_name = _text(rest[0], "get_thing_shadow", "skyggenavnet") if len(rest) == 2 else None
    role_arn = _text(rest[-1], "get_thing_shadow", "roleArn")
    thing = _text(thing_name, "get_thing_shadow", "tingnavnet")
    return _as_sql(_services(scope, "get_thing_shadow").thing_shadow(thing, shadow_name, role_arn), scope)


@_register("aws_lambda", 2)
def aws_lambda(scope: Scope, function_arn: Any, input_json: Any) -> Any:
    """aws_lambda(functionArn, inputJson): the function's JSON result; ``*`` passes the payload."""
    arn = _text(function_arn, "aws_lambda", "functionArn")
    if isinstance(input_json, bytes):  # aws_lambda(arn, *): the whole payload, which must be JSON
        try:
            input_json = parse_json(input_json, scope.version)
        except ValueError:
            raise ExternalFunctionError("aws_lambda", "aws_lambda(…, *): meldingen er ikke JSON, så den kan "
                                                      "ikke sendes til Lambda-funksjonen.") from None
    if input_json is UNDEFINED:
        raise ExternalFunctionError("aws_lambda", "aws_lambda(): inputJson er udefinert (finnes feltet i "
                                                  "meldingen?).")
    return _as_sql(_services(scope, "aws_lambda").call_lambda(arn, _as_json(input_json)), scope)


def _as_json(value: Any) -> Any:
    """An SQL value as plain JSON-ready Python for the function (SQL numbers may be Decimal)."""
    return to_json(value)


def _as_sql(value: Any, scope: Scope) -> Any:
    """A service's JSON answer (bytes or plain values) as SQL values of the rule's SQL version."""
    data = value if isinstance(value, bytes) else json.dumps(value).encode()
    return parse_json(data, scope.version)
