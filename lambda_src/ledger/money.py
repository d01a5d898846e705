"""Money as ``Decimal``: parsing of amount arguments and formatting of amounts in responses.

Amounts never pass through ``float``. The DynamoDB deserializer of boto3
returns Number attributes as ``Decimal``, arguments arrive as strings, and
responses carry amounts as strings such as ``"5000.00"``.
"""

import re
from decimal import Context, Decimal
from typing import Any, Final

from ledger.errors import InvalidArgumentError

# Digits after the decimal point (ISO 4217 minor units) for currencies that
# differ from the default of 2.
_MINOR_UNITS: Final = {
    "BHD": 3,
    "CLP": 0,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "OMR": 3,
    "TND": 3,
    "VND": 0,
}
_DEFAULT_MINOR_UNITS: Final = 2

# A non-negative amount with at most 13 integer digits and 3 fraction digits.
_AMOUNT_PATTERN: Final = re.compile(r"\d{1,13}(\.\d{1,3})?", re.ASCII)
AMOUNT_FORMAT_HINT: Final = 'a non-negative decimal string such as "100.00" (at most 3 decimal places)'

_CURRENCY_PATTERN: Final = re.compile(r"[A-Z]{3}")

# DynamoDB stores numbers with up to 38 significant digits.
_DYNAMODB_PRECISION: Final = Context(prec=38)


def parse_amount(argument: str, value: Any) -> Decimal:
    """Parse a non-negative amount argument, raising InvalidArgumentError that names the argument.

    A string or an integer is accepted. A float is rejected because its
    binary value may differ from the decimal the caller meant.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidArgumentError(argument, value, AMOUNT_FORMAT_HINT)

    text = str(value).strip()
    if not _AMOUNT_PATTERN.fullmatch(text):
        raise InvalidArgumentError(argument, value, AMOUNT_FORMAT_HINT)
    return Decimal(text)


def is_currency_code(value: Any) -> bool:
    """Tell whether ``value`` has the form of an ISO 4217 alphabetic code."""
    return isinstance(value, str) and _CURRENCY_PATTERN.fullmatch(value) is not None


def format_amount(amount: Decimal, currency: str) -> str:
    """Format an amount with the currency's minor units, for example ``Decimal("5000") -> "5000.00"``.

    An amount with more fraction digits than the currency uses is returned
    exactly as stored instead of being rounded.
    """
    if not amount.is_finite():
        raise ValueError(f"Cannot format the non-finite amount {amount}.")

    minor_units = _MINOR_UNITS.get(currency, _DEFAULT_MINOR_UNITS)
    quantum = Decimal(1).scaleb(-minor_units)
    quantized = amount.quantize(quantum, context=_DYNAMODB_PRECISION)
    if quantized != amount:
        return format(amount, "f")
    return format(quantized, "f")
