"""What a rule sees of one message besides its payload, and the evaluation scope."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# moto's default account; accountid() returns it.
DEFAULT_ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class MessageContext:
    """The message's topic, publisher and arrival time, as the SQL functions report them.

    ``clientid`` is None for messages that did not come over MQTT (clientid() then says
    "n/a", as AWS documents); ``principal`` is the certificate's SHA-256 thumbprint for a
    device, or None when unknown.
    """

    topic: str
    clientid: str | None
    principal: str | None
    timestamp_ms: int
    account_id: str = DEFAULT_ACCOUNT_ID
    trace_id: str | None = None


@dataclass
class Scope:
    """Everything an expression can read: the current JSON document and the message.

    ``variables`` are the SET clause's values (by name without ``@``); ``external`` reaches
    other services for get_thing_shadow() and aws_lambda() (None where they are not allowed,
    e.g. in templates of an error action).
    """

    doc: Any  # the JSON object fields are read from, or UNDEFINED
    raw: bytes  # the whole payload, for * and encode(*, ...)
    ctx: MessageContext
    version: str
    variables: dict[str, Any] = field(default_factory=dict)
    external: Any = None

    def with_doc(self, doc: Any) -> Scope:
        return Scope(doc=doc, raw=self.raw, ctx=self.ctx, version=self.version, variables=self.variables,
                     external=self.external)
