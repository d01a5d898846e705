"""The mesh's Powertools `Logger`, which masks account ids in every line it writes.

Powertools' ``inject_lambda_context`` adds ``function_arn`` to every line, and
a Lambda function ARN contains the 12-digit AWS account id. `create_logger`
gives each component a logger whose formatter passes every serialized line
through `mask_account_ids`, so that id, and any other run of 8 or more digits
not bordered by a letter, digit or hyphen, keeps only its last 4 digits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from ._redact import mask_account_ids


class AccountIdMaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools JSON formatter that masks account ids and other long digit runs in each serialized line."""

    def serialize(self, log: dict[str, Any]) -> str:
        """Serialize ``log`` to one JSON line, with every run of 8 or more digits masked to its last 4.

        The values are masked before serialization, and the line is masked
        again after it, for objects that the JSON encoder turns into text.
        """
        return mask_account_ids(super().serialize(_masked(log)))


def create_logger(service: str, *, stream: IO[str] | None = None) -> Logger:
    """Create the Powertools `Logger` of one mesh component, with `AccountIdMaskingFormatter`.

    ``stream`` defaults to standard output, where Lambda and AgentCore Runtime
    collect logs.

    NOTE: Powertools configures a logger once per service name. If a `Logger`
    with the same ``service`` was created earlier without this formatter,
    that logger's formatter stays in place.
    """
    return Logger(service=service, stream=stream, logger_formatter=AccountIdMaskingFormatter())


def _masked(value: Any) -> Any:
    """Return ``value`` with account ids masked in every string, key and number it contains.

    Masking the decoded strings also catches a digit run that JSON escaping
    would hide from the pattern, such as one after a newline (written ``\\n``).
    A number whose digits are masked becomes a string, because a bare JSON
    number with asterisks would make the line invalid JSON.
    """
    if isinstance(value, str):
        return mask_account_ids(value)
    if isinstance(value, bool):
        return value

    if isinstance(value, (int, float)):
        # The json module writes numbers, subclasses included, with these two methods.
        text = float.__repr__(value) if isinstance(value, float) else int.__repr__(value)
        masked = mask_account_ids(text)
        return value if masked == text else masked

    if isinstance(value, Mapping):
        return {_masked(key): _masked(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_masked(item) for item in value]
    return value
