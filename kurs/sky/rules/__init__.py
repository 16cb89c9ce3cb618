"""The local cloud's rules engine: AWS IoT SQL, substitution templates, rule actions.

The local cloud builds one :class:`RulesEngine` and calls ``on_message`` for every publish;
``parse`` also validates a rule's SQL when it is created (``SqlParseError.aws_message``).
"""

from kurs.sky.rules.actions import ActionError, ActionRunner, encode_output
from kurs.sky.rules.context import MessageContext
from kurs.sky.rules.engine import RulesEngine
from kurs.sky.rules.sql import SqlParseError, Statement, parse
from kurs.sky.rules.templates import substitute

__all__ = [
    "ActionError",
    "ActionRunner",
    "MessageContext",
    "RulesEngine",
    "SqlParseError",
    "Statement",
    "encode_output",
    "parse",
    "substitute",
]
