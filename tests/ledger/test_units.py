"""Unit tests of the ledger's money, argument, identity, config and repository helpers."""

from decimal import Decimal
from typing import Any

import pytest
from mesh_identity.constants import TOOL_REQUIRED_SCOPES

from ledger.arguments import (
    GET_BALANCE_ARGUMENTS,
    LIST_TRANSACTIONS_ARGUMENTS,
    TransactionQuery,
    parse_transaction_query,
)
from ledger.config import LedgerConfig
from ledger.errors import ConfigurationError, InvalidArgumentError, IsolationViolationError
from ledger.money import format_amount, parse_amount
from ledger.repository import LedgerRepository, SortKeyRange
from ledger.tool_schema import TOOL_DEFINITIONS
from ledger.tools import LedgerService
from tests.ledger.conftest import CrossTenantClient
from tests.support.ledger_data import BOB_SUB

VALID_ENVIRONMENT = {
    "LEDGER_TABLE_NAME": "ledger",
    "LEDGER_READER_ROLE_ARN": "arn:aws:iam::123456789012:role/ledger-reader",
    "LEDGER_PAGINATION_KEY_ID": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "AWS_REGION": "us-east-1",
}


# --- money -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("100", Decimal("100")), ("100.00", Decimal("100.00")), (" 0.5 ", Decimal("0.5")), (250, Decimal(250))],
)
def test_parse_amount_accepts_decimal_strings(value: Any, expected: Decimal) -> None:
    parsed = parse_amount("min_amount", value)

    assert parsed == expected
    assert isinstance(parsed, Decimal)


@pytest.mark.parametrize("value", ["", " ", "1,000", "1.2.3", "+5", "0x10", "Infinity", "１００", None, 1.5, [1]])
def test_parse_amount_rejects_other_forms(value: Any) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        parse_amount("min_amount", value)

    assert raised.value.public_message.startswith("Invalid min_amount: received ")


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("5000"), "USD", "5000.00"),
        (Decimal("5000.5"), "USD", "5000.50"),
        (Decimal("-4.5"), "EUR", "-4.50"),
        (Decimal("1500"), "JPY", "1500"),
        (Decimal("1.5"), "KWD", "1.500"),
        (Decimal("0.001"), "USD", "0.001"),
        (Decimal("12345678901234567890123456789012.25"), "USD", "12345678901234567890123456789012.25"),
    ],
)
def test_format_amount_uses_minor_units(amount: Decimal, currency: str, expected: str) -> None:
    assert format_amount(amount, currency) == expected


def test_format_amount_rejects_nan() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        format_amount(Decimal("NaN"), "USD")


# --- arguments ---------------------------------------------------------------------------------------


def test_transaction_query_defaults() -> None:
    assert parse_transaction_query({}) == TransactionQuery()


def test_fingerprint_ignores_amount_notation() -> None:
    first = parse_transaction_query({"min_amount": "100"})
    second = parse_transaction_query({"min_amount": "100.00"})

    assert first.filter_fingerprint() == second.filter_fingerprint()


def test_fingerprint_differs_by_date() -> None:
    first = parse_transaction_query({"from_date": "2025-01-01"})
    second = parse_transaction_query({"to_date": "2025-01-01"})

    assert first.filter_fingerprint() != second.filter_fingerprint()


# --- config ----------------------------------------------------------------------------------------------


def test_config_reads_environment() -> None:
    config = LedgerConfig.from_environment(VALID_ENVIRONMENT)

    assert config.table_name == "ledger"
    assert config.region == "us-east-1"


@pytest.mark.parametrize("name", sorted(VALID_ENVIRONMENT))
def test_config_names_missing_variable(name: str) -> None:
    environment = {key: value for key, value in VALID_ENVIRONMENT.items() if key != name}

    with pytest.raises(ConfigurationError, match=f"Missing environment variable {name}"):
        LedgerConfig.from_environment(environment)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LEDGER_READER_ROLE_ARN", "ledger-reader"),
        ("LEDGER_READER_ROLE_ARN", "arn:aws:iam::123456789012:user/someone"),
        ("LEDGER_TABLE_NAME", "a b"),
        ("AWS_REGION", "mars"),
    ],
)
def test_config_names_invalid_variable(name: str, value: str) -> None:
    environment = {**VALID_ENVIRONMENT, name: value}

    with pytest.raises(ConfigurationError, match=f"Invalid environment variable {name}="):
        LedgerConfig.from_environment(environment)


# --- repository -----------------------------------------------------------------------------------------


def test_repository_rejects_foreign_item() -> None:
    repository = LedgerRepository("ledger", lambda sub: CrossTenantClient())

    with pytest.raises(IsolationViolationError):
        repository.list_transactions(BOB_SUB, key_range=SortKeyRange(), min_amount=None, limit=10, start_after=None)


# --- tool schema ------------------------------------------------------------------------------------------


def test_tool_schema_matches_implemented_tools() -> None:
    schema_names = {definition["name"] for definition in TOOL_DEFINITIONS}
    service = LedgerService(LedgerRepository("ledger", lambda sub: None), None)  # type: ignore[arg-type]

    assert schema_names == service.tool_names
    assert schema_names == set(TOOL_REQUIRED_SCOPES)
    properties = {definition["name"]: set(definition["inputSchema"]["properties"]) for definition in TOOL_DEFINITIONS}
    assert properties["get_balance"] == set(GET_BALANCE_ARGUMENTS)
    assert properties["list_transactions"] == set(LIST_TRANSACTIONS_ARGUMENTS)
