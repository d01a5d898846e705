"""Validation of the tool arguments that the model supplies.

Only the arguments listed here are read. Any other argument, such as a
``customer_id`` that a prompt injected, is ignored: the customer is always the
verified ``sub``. Every value that reaches DynamoDB is bound through
``ExpressionAttributeValues`` after it has passed these checks.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Final

from ledger.errors import InvalidArgumentError, InvalidPaginationTokenError
from ledger.money import parse_amount

DEFAULT_PAGE_SIZE: Final = 25
MAX_PAGE_SIZE: Final = 100

LIST_TRANSACTIONS_ARGUMENTS: Final = frozenset({"limit", "from_date", "to_date", "min_amount", "next_token"})
GET_BALANCE_ARGUMENTS: Final = frozenset()

_DATE_PATTERN: Final = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DATE_FORMAT_HINT: Final = 'an ISO date "YYYY-MM-DD" such as "2025-03-01"'
_LIMIT_HINT: Final = f"an integer from 1 to {MAX_PAGE_SIZE}"
# A token this long is certainly not one the ledger issued, so it is rejected before any decoding.
MAX_NEXT_TOKEN_LENGTH: Final = 2048


@dataclass(frozen=True)
class TransactionQuery:
    """Validated arguments of ``list_transactions``."""

    limit: int = DEFAULT_PAGE_SIZE
    from_date: date | None = None
    to_date: date | None = None
    min_amount: Decimal | None = None
    next_token: str | None = None

    def filter_fingerprint(self) -> str:
        """Return a stable text form of the filters, which a pagination token is bound to."""
        return "|".join(
            (
                self.from_date.isoformat() if self.from_date else "",
                self.to_date.isoformat() if self.to_date else "",
                format(self.min_amount.normalize(), "f") if self.min_amount is not None else "",
            )
        )


def ignored_argument_names(arguments: Mapping[str, Any], accepted: frozenset[str]) -> list[str]:
    """Return the names of arguments that the tool does not read, truncated for logging."""
    return sorted(str(name)[:40] for name in arguments if name not in accepted)


def parse_transaction_query(arguments: Mapping[str, Any]) -> TransactionQuery:
    """Validate the arguments of ``list_transactions``, raising InvalidArgumentError on the first bad one."""
    limit = _parse_limit(arguments.get("limit"))
    from_date = _parse_date("from_date", arguments.get("from_date"))
    to_date = _parse_date("to_date", arguments.get("to_date"))
    if from_date is not None and to_date is not None and from_date > to_date:
        raise InvalidArgumentError(
            "to_date", arguments.get("to_date"), f"a date on or after from_date ({from_date.isoformat()})"
        )

    min_amount_value = arguments.get("min_amount")
    min_amount = None if min_amount_value is None else parse_amount("min_amount", min_amount_value)
    next_token = _parse_next_token(arguments.get("next_token"))

    return TransactionQuery(
        limit=limit,
        from_date=from_date,
        to_date=to_date,
        min_amount=min_amount,
        next_token=next_token,
    )


def _parse_limit(value: Any) -> int:
    if value is None:
        return DEFAULT_PAGE_SIZE

    # Models often send numbers as strings, so a string of digits is accepted too.
    if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        number = int(value.strip())
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise InvalidArgumentError("limit", value, _LIMIT_HINT)

    if not 1 <= number <= MAX_PAGE_SIZE:
        raise InvalidArgumentError("limit", value, _LIMIT_HINT)
    return number


def _parse_date(argument: str, value: Any) -> date | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE_PATTERN.fullmatch(value.strip()):
        raise InvalidArgumentError(argument, value, _DATE_FORMAT_HINT)

    try:
        return date.fromisoformat(value.strip())
    except ValueError as error:
        raise InvalidArgumentError(argument, value, _DATE_FORMAT_HINT) from error


def _parse_next_token(value: Any) -> str | None:
    if value is None or value == "":
        return None
    # Token values are never echoed or logged, so this error does not show the value.
    if not isinstance(value, str):
        raise InvalidPaginationTokenError(f"next_token is a {type(value).__name__}, expected a string")
    if len(value) > MAX_NEXT_TOKEN_LENGTH:
        raise InvalidPaginationTokenError(f"next_token is longer than {MAX_NEXT_TOKEN_LENGTH} characters")
    return value
