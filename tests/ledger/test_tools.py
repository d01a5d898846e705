"""End-to-end tests of the ledger tools through the handler, against moto DynamoDB, STS and KMS."""

import io
from decimal import Decimal
from typing import Any

import pytest
from mesh_identity.constants import CUSTOMER_SESSION_TAG, SCOPE_ACCOUNTS_READ, VERIFIED_IDENTITY_KEY

from ledger import handler
from ledger.credentials import role_session_name
from ledger.errors import ConfigurationError
from ledger.pagination import PaginationTokenCodec
from ledger.repository import LedgerRepository
from ledger.tools import LedgerService
from tests.ledger.conftest import (
    READER_ROLE_ARN,
    SESSION_ID,
    CrossTenantClient,
    FakeLambdaContext,
    LedgerHarness,
    gateway_context,
    verified_identity,
)
from tests.support.ledger_data import ALICE, ALICE_SUB, BOB, BOB_SUB

ALICE_IDS = {transaction.local_id for transaction in ALICE.transactions}
BOB_IDS = {transaction.local_id for transaction in BOB.transactions}


def returned_ids(response: dict[str, Any]) -> list[str]:
    return [transaction["transaction_id"] for transaction in response["transactions"]]


# --- get_balance ---------------------------------------------------------------------------


def test_get_balance_returns_alice_balance(harness: LedgerHarness) -> None:
    response = harness.invoke("get_balance", {}, verified_identity(ALICE_SUB))

    assert response["balance"] == "5000.00"
    assert Decimal(response["balance"]) == Decimal("5000.00")
    assert response["currency"] == "USD"
    assert response["as_of"] == "2025-03-31T23:59:00Z"


def test_get_balance_masks_account_number(harness: LedgerHarness) -> None:
    response = harness.invoke("get_balance", {}, verified_identity(ALICE_SUB))

    assert response["account_number"] == "****6789"
    assert ALICE.account_number not in str(response)


def test_get_balance_ignores_customer_id(harness: LedgerHarness) -> None:
    response = harness.invoke("get_balance", {"customer_id": ALICE_SUB}, verified_identity(BOB_SUB))

    assert response["balance"] == "1250.50"
    assert harness.audit_records[-1]["ignored_arguments"] == ["customer_id"]


def test_get_balance_audits_allow(harness: LedgerHarness) -> None:
    harness.invoke("get_balance", {}, verified_identity(ALICE_SUB))

    record = harness.audit_records[-1]
    assert record["hop"] == "ledger"
    assert record["decision"] == "allow"
    assert record["sub"] == ALICE_SUB
    assert record["session_id"] == SESSION_ID
    assert record["principal"] == "gateway/mesh-gateway-abc123"
    assert record["tool"] == "get_balance"
    assert record["reason"] == "tool_served"


def test_get_balance_without_account_is_not_found(harness: LedgerHarness) -> None:
    response = harness.invoke("get_balance", {}, verified_identity("11111111-2222-4333-8444-555555555555"))

    assert response["error"]["code"] == "account_not_found"


# --- row-level isolation -----------------------------------------------------------------


@pytest.mark.parametrize(
    "injected",
    [
        {"customer_id": "alice"},
        {"customer_id": ALICE_SUB},
        {"customer_id": {"S": ALICE_SUB}},
        {"sub": ALICE_SUB},
        {"ExclusiveStartKey": {"customer_id": {"S": ALICE_SUB}, "transaction_id": {"S": "TXN#"}}},
        {"KeyConditionExpression": "customer_id = :any"},
        {"ExpressionAttributeValues": {":pk": {"S": ALICE_SUB}}},
        {"TableName": "other-table"},
    ],
    ids=lambda injected: next(iter(injected)),
)
def test_list_transactions_returns_only_bob_rows(harness: LedgerHarness, injected: dict[str, Any]) -> None:
    before = harness.table_items()

    response = harness.invoke("list_transactions", injected, verified_identity(BOB_SUB))

    assert set(returned_ids(response)) == BOB_IDS
    assert not set(returned_ids(response)) & ALICE_IDS
    assert harness.table_items() == before


def test_list_transactions_nested_identity_is_inert(harness: LedgerHarness) -> None:
    # A nested copy of the identity key in the arguments must not change whose rows are read.
    arguments = {"filters": {VERIFIED_IDENTITY_KEY: verified_identity(ALICE_SUB)}}

    response = harness.invoke("list_transactions", arguments, verified_identity(BOB_SUB))

    assert set(returned_ids(response)) == BOB_IDS


@pytest.mark.parametrize(
    ("arguments", "argument"),
    [
        ({"from_date": "2025-01-01' OR '1'='1"}, "from_date"),
        ({"to_date": "2025-03-31 OR customer_id <> :pk"}, "to_date"),
        ({"min_amount": ":pk"}, "min_amount"),
        ({"min_amount": "0 OR #pk = :pk"}, "min_amount"),
        ({"min_amount": "1; DROP TABLE ledger"}, "min_amount"),
        ({"limit": "10 OR 1=1"}, "limit"),
        ({"limit": {"N": "1000"}}, "limit"),
        ({"from_date": {"S": "2025-01-01"}}, "from_date"),
    ],
)
def test_list_transactions_rejects_injection_strings(
    harness: LedgerHarness, arguments: dict[str, Any], argument: str
) -> None:
    before = harness.table_items()

    response = harness.invoke("list_transactions", arguments, verified_identity(BOB_SUB))

    assert response["error"]["code"] == "invalid_argument"
    assert argument in response["error"]["message"]
    assert "transactions" not in response
    assert harness.reader_calls == []
    assert harness.table_items() == before


def test_reads_are_partition_key_queries(harness: LedgerHarness) -> None:
    harness.invoke("get_balance", {}, verified_identity(ALICE_SUB))
    harness.invoke("list_transactions", {"limit": 2}, verified_identity(ALICE_SUB))
    harness.invoke("list_transactions", {"min_amount": "100"}, verified_identity(BOB_SUB))

    operations = {operation for operation, _ in harness.reader_calls}
    assert operations == {"query"}
    for _, parameters in harness.reader_calls:
        assert parameters["KeyConditionExpression"].startswith("#pk = :pk AND ")
        assert parameters["ExpressionAttributeNames"]["#pk"] == "customer_id"
        assert parameters["ExpressionAttributeValues"][":pk"]["S"] in {ALICE_SUB, BOB_SUB}


def test_query_partition_is_verified_sub(harness: LedgerHarness) -> None:
    harness.invoke("list_transactions", {"customer_id": ALICE_SUB}, verified_identity(BOB_SUB))

    partitions = {parameters["ExpressionAttributeValues"][":pk"]["S"] for _, parameters in harness.reader_calls}
    assert partitions == {BOB_SUB}


def test_tools_write_nothing(harness: LedgerHarness) -> None:
    before = harness.table_items()

    harness.invoke("get_balance", {}, verified_identity(ALICE_SUB))
    harness.invoke("list_transactions", {}, verified_identity(ALICE_SUB))
    harness.invoke("list_transactions", {"limit": 1}, verified_identity(BOB_SUB))

    assert harness.table_items() == before


# --- identity ----------------------------------------------------------------------------------


def test_handler_denies_missing_identity(harness: LedgerHarness) -> None:
    response = harness.invoke("list_transactions", {"customer_id": ALICE_SUB}, identity=None)

    assert response["error"]["code"] == "access_denied"
    assert response["error"]["message"] == "The request was denied."
    assert harness.sts_calls == []
    assert harness.reader_calls == []


def test_handler_audits_missing_identity(harness: LedgerHarness) -> None:
    harness.invoke("get_balance", {}, identity=None)

    record = harness.audit_records[-1]
    assert record["decision"] == "deny"
    assert record["reason"] == "identity_missing"
    assert record["sub"] is None


MALFORMED_IDENTITIES = {
    "string": "alice",
    "list": [ALICE_SUB],
    "empty_object": {},
    "sub_missing": {"scopes": [], "client_id": "client", "session_id": SESSION_ID},
    "sub_not_string": {**verified_identity(ALICE_SUB), "sub": 42},
    "sub_empty": {**verified_identity(ALICE_SUB), "sub": ""},
    "sub_with_newline": {**verified_identity(ALICE_SUB), "sub": ALICE_SUB + "\nadmin"},
    "sub_with_quote": {**verified_identity(ALICE_SUB), "sub": "alice' OR '1'='1"},
    "sub_too_long": {**verified_identity(ALICE_SUB), "sub": "a" * 129},
    "scopes_missing": {key: value for key, value in verified_identity(ALICE_SUB).items() if key != "scopes"},
    "scopes_not_strings": {**verified_identity(ALICE_SUB), "scopes": [1, 2]},
    "client_id_missing": {key: value for key, value in verified_identity(ALICE_SUB).items() if key != "client_id"},
    "session_id_short": {**verified_identity(ALICE_SUB), "session_id": "short"},
    "session_id_none": {**verified_identity(ALICE_SUB), "session_id": None},
}


@pytest.mark.parametrize("identity", MALFORMED_IDENTITIES.values(), ids=MALFORMED_IDENTITIES.keys())
def test_handler_denies_malformed_identity(harness: LedgerHarness, identity: Any) -> None:
    response = harness.invoke("get_balance", {}, identity)

    assert response["error"]["code"] == "access_denied"
    assert harness.reader_calls == []
    assert harness.audit_records[-1]["decision"] == "deny"
    assert harness.audit_records[-1]["reason"] in {"identity_missing", "identity_malformed"}


def test_handler_denies_missing_scope(harness: LedgerHarness) -> None:
    response = harness.invoke("list_transactions", {}, verified_identity(ALICE_SUB, scopes=[SCOPE_ACCOUNTS_READ]))

    assert response["error"]["code"] == "access_denied"
    assert harness.audit_records[-1]["reason"] == "scope_missing"
    assert "transactions.read" in harness.audit_records[-1]["detail"]
    assert harness.reader_calls == []


def test_handler_accepts_space_separated_scopes(harness: LedgerHarness) -> None:
    scopes = "agent-mesh/accounts.read agent-mesh/transactions.read"

    response = harness.invoke("get_balance", {}, verified_identity(ALICE_SUB, scopes=scopes))

    assert response["balance"] == "5000.00"


def test_handler_rejects_non_object_event(harness: LedgerHarness) -> None:
    response = handler.handle(["not", "an", "object"], gateway_context("get_balance"), harness.service)

    assert response["error"]["code"] == "access_denied"


def test_handler_rejects_unknown_tool(harness: LedgerHarness) -> None:
    response = harness.invoke("transfer_funds", {}, verified_identity(ALICE_SUB))

    assert response["error"]["code"] == "unknown_tool"
    assert harness.reader_calls == []


def test_handler_rejects_missing_client_context(harness: LedgerHarness) -> None:
    event = {VERIFIED_IDENTITY_KEY: verified_identity(ALICE_SUB)}
    response = handler.handle(event, FakeLambdaContext(client_context=None), harness.service)

    assert response["error"]["code"] == "unknown_tool"


# --- reader credentials --------------------------------------------------------------------------


def test_assume_role_carries_customer_session_tag(harness: LedgerHarness) -> None:
    harness.invoke("get_balance", {}, verified_identity(ALICE_SUB))

    (operation, parameters), = harness.sts_calls
    assert operation == "assume_role"
    assert parameters["RoleArn"] == READER_ROLE_ARN
    assert parameters["Tags"] == [{"Key": CUSTOMER_SESSION_TAG, "Value": ALICE_SUB}]
    assert parameters["RoleSessionName"] == role_session_name(ALICE_SUB)


def test_assume_role_is_cached_per_customer(harness: LedgerHarness) -> None:
    harness.invoke("get_balance", {}, verified_identity(ALICE_SUB))
    harness.invoke("list_transactions", {}, verified_identity(ALICE_SUB))
    harness.invoke("get_balance", {}, verified_identity(BOB_SUB))
    harness.invoke("list_transactions", {}, verified_identity(BOB_SUB))

    tagged = [parameters["Tags"][0]["Value"] for _, parameters in harness.sts_calls]
    assert tagged == [ALICE_SUB, BOB_SUB]


def test_each_customer_reads_with_own_credentials(harness: LedgerHarness) -> None:
    harness.invoke("get_balance", {}, verified_identity(ALICE_SUB))
    harness.invoke("get_balance", {}, verified_identity(BOB_SUB))

    alice_credentials, bob_credentials = harness.reader_credentials
    assert alice_credentials.access_key_id != bob_credentials.access_key_id


# --- filters ---------------------------------------------------------------------------------------


def test_list_transactions_returns_newest_first(harness: LedgerHarness) -> None:
    response = harness.invoke("list_transactions", {}, verified_identity(ALICE_SUB))

    assert returned_ids(response) == ["a-0005", "a-0004", "a-0003", "a-0002", "a-0001"]
    assert response["next_token"] is None


def test_list_transactions_formats_amounts(harness: LedgerHarness) -> None:
    response = harness.invoke("list_transactions", {}, verified_identity(ALICE_SUB))

    amounts = {transaction["transaction_id"]: transaction["amount"] for transaction in response["transactions"]}
    assert amounts["a-0001"] == "3200.00"
    assert amounts["a-0004"] == "-4.50"


def test_list_transactions_filters_by_date_range(harness: LedgerHarness) -> None:
    arguments = {"from_date": "2025-02-01", "to_date": "2025-02-28"}

    response = harness.invoke("list_transactions", arguments, verified_identity(ALICE_SUB))

    assert returned_ids(response) == ["a-0003", "a-0002"]


def test_list_transactions_includes_whole_to_date(harness: LedgerHarness) -> None:
    # a-0001 was booked at 09:00 on 2025-01-31.
    response = harness.invoke("list_transactions", {"to_date": "2025-01-31"}, verified_identity(ALICE_SUB))

    assert returned_ids(response) == ["a-0001"]


def test_list_transactions_accepts_maximum_date(harness: LedgerHarness) -> None:
    arguments = {"from_date": "2025-03-01", "to_date": "9999-12-31"}

    response = harness.invoke("list_transactions", arguments, verified_identity(ALICE_SUB))

    assert returned_ids(response) == ["a-0005", "a-0004"]


def test_list_transactions_filters_by_amount(harness: LedgerHarness) -> None:
    response = harness.invoke("list_transactions", {"min_amount": "100.00"}, verified_identity(ALICE_SUB))

    assert returned_ids(response) == ["a-0002", "a-0001"]


def test_list_transactions_limit_truncates(harness: LedgerHarness) -> None:
    response = harness.invoke("list_transactions", {"limit": "3"}, verified_identity(ALICE_SUB))

    assert returned_ids(response) == ["a-0005", "a-0004", "a-0003"]
    assert response["next_token"] is not None


# --- argument errors --------------------------------------------------------------------------------

BAD_ARGUMENTS = [
    ("min_amount", "abc", 'a non-negative decimal string such as "100.00"'),
    ("min_amount", "-5", "non-negative"),
    ("min_amount", "1e3", "decimal string"),
    ("min_amount", "100.0001", "at most 3 decimal places"),
    ("min_amount", 100.5, "decimal string"),
    ("min_amount", True, "decimal string"),
    ("min_amount", "NaN", "decimal string"),
    ("from_date", "01/02/2025", '"YYYY-MM-DD"'),
    ("from_date", "2025-02-30", '"YYYY-MM-DD"'),
    ("from_date", "20250201", '"YYYY-MM-DD"'),
    ("to_date", "2025-02-01T00:00:00Z", '"YYYY-MM-DD"'),
    ("to_date", 20250201, '"YYYY-MM-DD"'),
    ("limit", 0, "an integer from 1 to 100"),
    ("limit", 101, "an integer from 1 to 100"),
    ("limit", 2.5, "an integer from 1 to 100"),
    ("limit", False, "an integer from 1 to 100"),
]


@pytest.mark.parametrize(("argument", "value", "expected"), BAD_ARGUMENTS)
def test_list_transactions_rejects_bad_argument(
    harness: LedgerHarness, argument: str, value: Any, expected: str
) -> None:
    response = harness.invoke("list_transactions", {argument: value}, verified_identity(ALICE_SUB))

    message = response["error"]["message"]
    assert response["error"]["code"] == "invalid_argument"
    assert message.startswith(f"Invalid {argument}: received {value!r}")
    assert expected in message
    assert harness.audit_records[-1]["decision"] == "deny"


def test_list_transactions_rejects_from_after_to(harness: LedgerHarness) -> None:
    arguments = {"from_date": "2025-03-01", "to_date": "2025-02-01"}

    response = harness.invoke("list_transactions", arguments, verified_identity(ALICE_SUB))

    assert response["error"]["code"] == "invalid_argument"
    assert "on or after from_date (2025-03-01)" in response["error"]["message"]


def test_argument_error_truncates_long_value(harness: LedgerHarness) -> None:
    response = harness.invoke("list_transactions", {"from_date": "x" * 5000}, verified_identity(ALICE_SUB))

    message = response["error"]["message"]
    assert "... (truncated)" in message
    assert len(message) < 200


def test_argument_error_escapes_control_characters(harness: LedgerHarness) -> None:
    response = harness.invoke("list_transactions", {"from_date": "2025\n-01-01"}, verified_identity(ALICE_SUB))

    assert "\n" not in response["error"]["message"]


JWT_LIKE = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.c2ln"
SIGV4_LIKE = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/lambda/aws4_request"

# Each case is an argument holding credential-like text that the error message must not echo back.
CREDENTIAL_ARGUMENTS = [
    ("from_date", JWT_LIKE),
    ("to_date", SIGV4_LIKE),
    ("min_amount", JWT_LIKE),
    ("limit", SIGV4_LIKE),
    # Truncation to 40 characters would keep "AWS4-HMAC" here if it ran before redaction.
    ("from_date", "x" * 30 + SIGV4_LIKE),
]


@pytest.mark.parametrize(("argument", "value"), CREDENTIAL_ARGUMENTS)
def test_argument_error_redacts_credentials(harness: LedgerHarness, argument: str, value: str) -> None:
    response = harness.invoke("list_transactions", {argument: value}, verified_identity(ALICE_SUB))

    message = response["error"]["message"]
    assert response["error"]["code"] == "invalid_argument"
    assert "eyJ" not in message
    assert "AWS4-HMAC" not in message


def test_argument_error_names_argument_after_redaction(harness: LedgerHarness) -> None:
    response = harness.invoke("list_transactions", {"from_date": JWT_LIKE}, verified_identity(ALICE_SUB))

    assert response["error"]["message"].startswith("Invalid from_date: received '[redacted]'")


# --- failures --------------------------------------------------------------------------------------


def test_handler_withholds_foreign_rows(harness: LedgerHarness) -> None:
    harness.service = LedgerService(
        LedgerRepository("ledger", lambda sub: CrossTenantClient()),
        PaginationTokenCodec(object(), "unused"),
    )

    response = harness.invoke("list_transactions", {}, verified_identity(BOB_SUB))

    assert set(response) == {"error"}
    assert response["error"]["code"] == "internal_error"
    assert "Salary" not in str(response)
    assert harness.audit_records[-1]["decision"] == "deny"
    assert harness.audit_records[-1]["reason"] == "isolation_violation"


def test_handler_hides_unexpected_exception(harness: LedgerHarness) -> None:
    class BrokenService:
        def call(self, *args: Any) -> Any:
            raise RuntimeError("database password is hunter2")

    harness.service = BrokenService()  # type: ignore[assignment]

    response = harness.invoke("get_balance", {}, verified_identity(ALICE_SUB))

    assert response["error"]["code"] == "internal_error"
    assert "hunter2" not in str(response)
    assert harness.audit_records[-1]["reason"] == "unexpected_error"


def test_handler_logs_failure_with_traceback(harness: LedgerHarness, ledger_log: io.StringIO) -> None:
    class BrokenService:
        def call(self, *args: Any) -> Any:
            raise RuntimeError("simulated defect")

    harness.service = BrokenService()  # type: ignore[assignment]

    harness.invoke("get_balance", {}, verified_identity(ALICE_SUB))

    output = ledger_log.getvalue()
    assert '"message":"Ledger tool failed"' in output
    assert "RuntimeError: simulated defect" in output


def test_handler_logs_no_customer_data(harness: LedgerHarness, ledger_log: io.StringIO) -> None:
    harness.invoke("get_balance", {}, verified_identity(ALICE_SUB))
    harness.invoke("list_transactions", {}, verified_identity(ALICE_SUB))

    output = ledger_log.getvalue()
    assert ALICE.account_number not in output
    assert "Salary January" not in output
    assert '"decision":"allow"' in output


# --- the Lambda entry point -----------------------------------------------------------------------


@pytest.fixture
def ledger_environment(harness: LedgerHarness, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("LEDGER_TABLE_NAME", "ledger-test")
    monkeypatch.setenv("LEDGER_READER_ROLE_ARN", READER_ROLE_ARN)
    monkeypatch.setenv("LEDGER_PAGINATION_KEY_ID", harness.kms_key_id)
    handler._default_service.cache_clear()
    yield handler
    handler._default_service.cache_clear()


def test_lambda_handler_serves_balance(ledger_environment: Any) -> None:
    event = {VERIFIED_IDENTITY_KEY: verified_identity(ALICE_SUB)}

    response = ledger_environment.lambda_handler(event, gateway_context("get_balance"))

    assert response["balance"] == "5000.00"


def test_lambda_handler_logs_mask_account_id(ledger_environment: Any, ledger_log: io.StringIO) -> None:
    # The fake context's function ARN contains account 123456789012, as a real one does.
    event = {VERIFIED_IDENTITY_KEY: verified_identity(ALICE_SUB)}

    ledger_environment.lambda_handler(event, gateway_context("get_balance"))
    output = ledger_log.getvalue()

    assert "arn:aws:lambda:us-east-1:********9012:function:ledger" in output
    assert "123456789012" not in output


def test_lambda_handler_requires_table_name(
    ledger_environment: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEDGER_TABLE_NAME")
    event = {VERIFIED_IDENTITY_KEY: verified_identity(ALICE_SUB)}

    with pytest.raises(ConfigurationError, match="Missing environment variable LEDGER_TABLE_NAME"):
        ledger_environment.lambda_handler(event, gateway_context("get_balance"))
