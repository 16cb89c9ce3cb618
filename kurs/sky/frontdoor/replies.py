"""The refusals, shaped the way each AWS protocol reports errors, so boto3 and the ``aws`` CLI
show "An error occurred (UnrecognizedClientException) when calling the ListThings operation: …".

Codes and texts are AWS's own (https://docs.aws.amazon.com/iot/latest/apireference/CommonErrors.html,
https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html,
https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html): JSON and REST-JSON
services (IoT, iot-data, Lambda, DynamoDB, Logs) use ``…Exception`` names in the
``x-amzn-ErrorType`` header, the query services (IAM, STS) an XML ``ErrorResponse``, S3 its own XML.
Each text ends with a Norwegian hint, since the learner reads it in the terminal.
"""

from __future__ import annotations

import json
import uuid
from xml.sax.saxutils import escape

_HINT_KEYS = ('(Lokal sky: forespørselen er ikke signert med skyens nøkler. Kjør  eval "$(kurs sky env)"  '
              "i terminalen, eller kurs.sky.start() i notatboka.)")
_HINT_CLOCK = "(Lokal sky: klokka i forespørselen avviker mer enn 15 minutter fra maskinens klokke.)"

_BAD_SIGNATURE = ("The request signature we calculated does not match the signature you provided. Check your AWS "
                  "Secret Access Key and signing method. Consult the service documentation for details.")
_UNKNOWN_KEY = "The security token included in the request is invalid."

# reason -> {protocol: (code, AWS message)}; protocol is json, query or s3.
_CODES: dict[str, dict[str, tuple[str, str]]] = {
    "missing": {"json": ("MissingAuthenticationTokenException", "Missing Authentication Token"),
                "query": ("MissingAuthenticationToken", "Request is missing Authentication Token"),
                "s3": ("AccessDenied", "Access Denied")},
    "incomplete": {"json": ("IncompleteSignatureException", "The request signature does not conform to AWS standards."),
                   "query": ("IncompleteSignature", "The request signature does not conform to AWS standards."),
                   "s3": ("AuthorizationHeaderMalformed", "The authorization header is malformed.")},
    "unknown_key": {"json": ("UnrecognizedClientException", _UNKNOWN_KEY),
                    "query": ("InvalidClientTokenId", _UNKNOWN_KEY),
                    "s3": ("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")},
    "bad_signature": {"json": ("InvalidSignatureException", _BAD_SIGNATURE),
                      "query": ("SignatureDoesNotMatch", _BAD_SIGNATURE),
                      "s3": ("SignatureDoesNotMatch", _BAD_SIGNATURE)},
    "expired": {"json": ("InvalidSignatureException", "Signature expired: {detail} is now earlier or later than 15 "
                                                      "minutes from the server's time."),
                "query": ("RequestExpired", "Request has expired."),
                "s3": ("RequestTimeTooSkewed", "The difference between the request time and the current time is "
                                               "too large.")},
}
# HTTP status where it is not 403: a malformed signature is 400 everywhere, an expired query request too.
_STATUS = {("incomplete", "json"): 400, ("incomplete", "query"): 400, ("incomplete", "s3"): 400,
           ("expired", "query"): 400}


def protocol(environ: dict, service: str | None) -> str:
    """json, query or s3: how the client expects to read an error."""
    if service == "s3":
        return "s3"
    content_type = str(environ.get("CONTENT_TYPE") or "")
    if content_type.startswith("application/x-www-form-urlencoded") or "Action=" in str(environ.get("QUERY_STRING")):
        return "query"
    return "json"


def refusal(reason: str, proto: str, detail: str = "") -> tuple[str, list[tuple[str, str]], bytes]:
    """(status line, headers, body) for a refused request."""
    code, message = _CODES[reason][proto]
    message = message.format(detail=detail) + " " + (_HINT_CLOCK if reason == "expired" else _HINT_KEYS)
    status = _STATUS.get((reason, proto), 403)
    request_id = str(uuid.uuid4())
    if proto == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)]
    elif proto == "query":
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
                f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>").encode()
        headers = [("Content-Type", "text/xml")]
    else:
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{escape(message)}'
                f"</Message><RequestId>{request_id}</RequestId></Error>").encode()
        headers = [("Content-Type", "application/xml")]
    return _status_line(status), [*headers, ("x-amzn-RequestId", request_id)], body


def foreign(message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """A request from a web page or through a foreign host name: no AWS client sends these."""
    body = json.dumps({"__type": "AccessDeniedException", "message": message}, ensure_ascii=False).encode()
    return _status_line(403), [("Content-Type", "application/json; charset=utf-8"),
                               ("x-amzn-ErrorType", "AccessDeniedException")], body


def _status_line(status: int) -> str:
    return {400: "400 Bad Request", 403: "403 Forbidden"}[status]
