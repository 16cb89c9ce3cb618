"""The local cloud's services behind get_thing_shadow() and aws_lambda() in rule SQL.

Both act as AWS IoT does: get_thing_shadow() with the rule's role (trusted by
iot.amazonaws.com, allowed iot:GetThingShadow on the thing; see :mod:`kurs.sky.rules.roles`),
aws_lambda() only when the function's resource policy lets iot.amazonaws.com invoke it, and
synchronously, waiting at most 2 s ("Lambda function calls from rules should be completed
within 2000 milliseconds", SQL reference, aws_lambda). A refusal or failure raises
:class:`~kurs.sky.rules.external.ExternalFunctionError` with a Norwegian reason for the log.
"""

from __future__ import annotations

import json
from typing import Any

from kurs.sky.rules import roles
from kurs.sky.rules.external import ExternalFunctionError

RULE_LAMBDA_WAIT_S = 2.0


class LocalExternalServices:
    def __init__(self, shadow: Any, lambdas: Any, region: str, account: str) -> None:
        self._shadow = shadow
        self._lambdas = lambdas
        self._region = region
        self._account = account

    def thing_shadow(self, thing_name: str, shadow_name: str | None, role_arn: str) -> bytes:
        resource = f"arn:aws:iot:{self._region}:{self._account}:thing/{thing_name}"
        why = roles.refusal(role_arn, "iot:GetThingShadow", resource)
        if why is not None:
            raise ExternalFunctionError("get_thing_shadow", f"AWS IoT fikk ikke lese skyggen til «{thing_name}»: "
                                                            f"{why}.")
        if self._shadow is None:
            raise ExternalFunctionError("get_thing_shadow", "skyggetjenesten kjører ikke i den lokale skyen.")
        status, body, _ = self._shadow.http_get(thing_name, shadow_name)
        if status >= 400:
            try:
                message = json.loads(body).get("message", "")
            except ValueError:
                message = body.decode(errors="replace")
            which = f"skyggen «{shadow_name}»" if shadow_name else "skyggen"
            raise ExternalFunctionError("get_thing_shadow", f"{which} til «{thing_name}» kunne ikke leses "
                                                            f"({status}: {message}).")
        return body

    def call_lambda(self, function_arn: str, event: Any) -> Any:
        try:
            fn = self._lambdas.function(function_arn)
        except Exception:
            raise ExternalFunctionError("aws_lambda", f"Lambda-funksjonen {function_arn} finnes ikke.") from None
        if not self._lambdas.iot_may_invoke(fn):
            raise ExternalFunctionError(
                "aws_lambda", f"AWS IoT har ikke lov til å kalle «{fn.function_name}» (ressurspolicyen mangler "
                              f"lambda:InvokeFunction for iot.amazonaws.com; bruk lambda.add_permission).")
        result = self._lambdas.run(fn, event, caller="en IoT-regel (aws_lambda() i SQL)",
                                   timeout_s=min(float(fn.timeout or 3), RULE_LAMBDA_WAIT_S))
        if not result.ok:
            error = result.error or {}
            raise ExternalFunctionError("aws_lambda", f"Lambda-funksjonen «{fn.function_name}» feilet: "
                                                      f"{error.get('errorType')}: {error.get('errorMessage')}")
        return result.payload
