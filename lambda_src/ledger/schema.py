"""Item schema of the ledger table.

Key schema: partition key ``customer_id`` (S), the user's Cognito ``sub``, and
sort key ``transaction_id`` (S). Each partition contains the items of one customer:

Balance item, one per customer
    ``transaction_id``   the reserved value ``BALANCE``
    ``amount``           N, the current balance in major units, for example 5000.00
    ``currency``         S, ISO 4217 code, for example ``USD``
    ``as_of``            S, ISO-8601 UTC timestamp ``YYYY-MM-DDTHH:MM:SSZ``
    ``account_number``   S, the full account number; the tool returns only the last 4 digits

Transaction item, one per booking
    ``transaction_id``   ``TXN#<booked_at>#<id>``, for example ``TXN#2025-03-01T09:30:00Z#t-0001``
    ``booked_at``        S, ISO-8601 UTC timestamp ``YYYY-MM-DDTHH:MM:SSZ``
    ``amount``           N, signed: negative for a debit, positive for a credit
    ``currency``         S, ISO 4217 code
    ``description``      S, free text shown to the customer

The sort key embeds ``booked_at`` in a fixed-width format, so string order is
booking order. A date range therefore becomes a key condition on the sort key
rather than a filter, and a descending query returns the newest bookings first.
"""

import re
from datetime import UTC, date, datetime
from typing import Final

PARTITION_KEY: Final = "customer_id"
SORT_KEY: Final = "transaction_id"

BALANCE_SORT_KEY: Final = "BALANCE"
TRANSACTION_SORT_KEY_PREFIX: Final = "TXN#"
# "$" is the character after "#", so this value sorts after every transaction key.
TRANSACTION_SORT_KEY_UPPER_BOUND: Final = "TXN$"

ATTRIBUTE_AMOUNT: Final = "amount"
ATTRIBUTE_CURRENCY: Final = "currency"
ATTRIBUTE_AS_OF: Final = "as_of"
ATTRIBUTE_ACCOUNT_NUMBER: Final = "account_number"
ATTRIBUTE_BOOKED_AT: Final = "booked_at"
ATTRIBUTE_DESCRIPTION: Final = "description"

TIMESTAMP_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"
TIMESTAMP_PATTERN: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", re.ASCII)
TRANSACTION_LOCAL_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9-]{1,64}")
TRANSACTION_SORT_KEY_PATTERN: Final = re.compile(
    r"TXN#(?P<booked_at>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)#(?P<local_id>[A-Za-z0-9-]{1,64})",
    re.ASCII,
)


def format_timestamp(moment: datetime) -> str:
    """Format an aware datetime as the table's UTC timestamp, to the second."""
    if moment.tzinfo is None:
        raise ValueError("Ledger timestamps must be timezone-aware; received a naive datetime.")
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def transaction_sort_key(booked_at: datetime, local_id: str) -> str:
    """Build the sort key of a transaction item from its booking time and its id."""
    if not TRANSACTION_LOCAL_ID_PATTERN.fullmatch(local_id):
        raise ValueError(
            f"Invalid transaction id {local_id!r}: expected 1 to 64 letters, digits or hyphens."
        )
    return f"{TRANSACTION_SORT_KEY_PREFIX}{format_timestamp(booked_at)}#{local_id}"


def sort_key_lower_bound(first_day: date) -> str:
    """Return the smallest transaction sort key that can be booked on ``first_day``."""
    return f"{TRANSACTION_SORT_KEY_PREFIX}{first_day.isoformat()}"


def sort_key_upper_bound(day_after_last: date) -> str:
    """Return a sort key below every booking on ``day_after_last`` and above every earlier one.

    No stored key equals this value, because stored keys continue with the
    time of day, so the inclusive ``BETWEEN`` of DynamoDB excludes that day.
    """
    return f"{TRANSACTION_SORT_KEY_PREFIX}{day_after_last.isoformat()}"
