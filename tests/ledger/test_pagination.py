"""Tests of pagination tokens: round trips through the handler, and rejection of foreign or altered tokens."""

import base64
import io
import json
from typing import Any

import boto3
import pytest

from ledger.errors import InvalidPaginationTokenError, LedgerUnavailableError
from ledger.pagination import PaginationTokenCodec
from tests.ledger.conftest import REGION, LedgerHarness, RecordingClient, verified_identity
from tests.support.ledger_data import ALICE, ALICE_SUB, BOB_SUB

LAST_KEY = "TXN#2025-02-14T18:30:00Z#a-0003"


def returned_ids(response: dict[str, Any]) -> list[str]:
    return [transaction["transaction_id"] for transaction in response["transactions"]]


def first_page_token(harness: LedgerHarness, sub: str, **arguments: Any) -> str:
    response = harness.invoke("list_transactions", {"limit": 2, **arguments}, verified_identity(sub))
    return response["next_token"]


def replace_body(token: str, change: dict[str, Any]) -> str:
    version, body, mac = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    decoded.update(change)
    encoded = base64.urlsafe_b64encode(json.dumps(decoded).encode()).rstrip(b"=").decode()
    return ".".join((version, encoded, mac))


def flip_character(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


# --- through the handler ----------------------------------------------------------------------------


def test_pagination_walks_all_alice_rows_once(harness: LedgerHarness) -> None:
    seen: list[str] = []
    arguments: dict[str, Any] = {"limit": 2}

    for _ in range(5):
        response = harness.invoke("list_transactions", arguments, verified_identity(ALICE_SUB))
        seen.extend(returned_ids(response))
        if response["next_token"] is None:
            break
        arguments = {"limit": 2, "next_token": response["next_token"]}

    assert seen == ["a-0005", "a-0004", "a-0003", "a-0002", "a-0001"]
    assert len(seen) == len(ALICE.transactions)


def test_pagination_keeps_filter_across_pages(harness: LedgerHarness) -> None:
    first = harness.invoke("list_transactions", {"limit": 1, "min_amount": "50"}, verified_identity(ALICE_SUB))
    second = harness.invoke(
        "list_transactions",
        {"limit": 1, "min_amount": "50", "next_token": first["next_token"]},
        verified_identity(ALICE_SUB),
    )

    assert returned_ids(first) == ["a-0003"]
    assert returned_ids(second) == ["a-0002"]


def test_pagination_token_does_not_reveal_sub(harness: LedgerHarness) -> None:
    token = first_page_token(harness, ALICE_SUB)

    _, body, _ = token.split(".")
    decoded = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    assert ALICE_SUB not in decoded


def test_pagination_rejects_bob_token_for_alice(harness: LedgerHarness) -> None:
    bob_token = first_page_token(harness, BOB_SUB)

    response = harness.invoke(
        "list_transactions", {"limit": 2, "next_token": bob_token}, verified_identity(ALICE_SUB)
    )

    assert response["error"]["code"] == "invalid_pagination_token"
    assert "transactions" not in response
    assert harness.audit_records[-1]["decision"] == "deny"
    assert harness.audit_records[-1]["reason"] == "pagination_token_bad_mac"
    assert harness.audit_records[-1]["sub"] == ALICE_SUB


def test_pagination_rejects_alice_token_for_bob(harness: LedgerHarness) -> None:
    alice_token = first_page_token(harness, ALICE_SUB)
    reads_before = len(harness.reader_calls)

    response = harness.invoke(
        "list_transactions", {"limit": 2, "next_token": alice_token}, verified_identity(BOB_SUB)
    )

    assert response["error"]["code"] == "invalid_pagination_token"
    assert len(harness.reader_calls) == reads_before


TAMPERINGS = {
    "body_sort_key": lambda token: replace_body(token, {"k": "TXN#2099-01-01T00:00:00Z#x"}),
    "body_expiry": lambda token: replace_body(token, {"e": 4102444800}),
    "body_filters": lambda token: replace_body(token, {"f": "0" * 32}),
    "mac_character": lambda token: token[:-3] + flip_character(token[-3:], 0),
    "mac_removed": lambda token: token.rsplit(".", 1)[0] + ".",
    "mac_truncated": lambda token: token[:-6],
    "version": lambda token: "v2" + token[2:],
    "extra_part": lambda token: token + ".AAAA",
    "not_base64": lambda token: token.replace(".", ".!", 1),
    "empty_json": lambda token: "v1.e30." + token.split(".")[2],
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_pagination_rejects_tampered_token(harness: LedgerHarness, tamper: Any) -> None:
    token = first_page_token(harness, ALICE_SUB)

    response = harness.invoke(
        "list_transactions", {"limit": 2, "next_token": tamper(token)}, verified_identity(ALICE_SUB)
    )

    assert response["error"]["code"] == "invalid_pagination_token"


def test_pagination_rejects_other_filters(harness: LedgerHarness) -> None:
    token = first_page_token(harness, ALICE_SUB)

    response = harness.invoke(
        "list_transactions",
        {"limit": 2, "min_amount": "1", "next_token": token},
        verified_identity(ALICE_SUB),
    )

    assert response["error"]["code"] == "invalid_pagination_token"
    assert harness.audit_records[-1]["reason"] == "pagination_token_other_filters"


@pytest.mark.parametrize("token", [123, ["v1"], "x" * 2049], ids=["number", "list", "too_long"])
def test_pagination_rejects_wrong_token_type(harness: LedgerHarness, token: Any) -> None:
    response = harness.invoke("list_transactions", {"next_token": token}, verified_identity(ALICE_SUB))

    assert response["error"]["code"] == "invalid_pagination_token"


def test_pagination_error_omits_token(harness: LedgerHarness) -> None:
    token = first_page_token(harness, BOB_SUB)

    response = harness.invoke("list_transactions", {"next_token": token}, verified_identity(ALICE_SUB))

    assert token not in json.dumps(response)
    assert all(token not in json.dumps(record, default=str) for record in harness.audit_records)


def test_pagination_log_omits_token(harness: LedgerHarness, ledger_log: io.StringIO) -> None:
    token = first_page_token(harness, BOB_SUB)

    harness.invoke("list_transactions", {"next_token": token}, verified_identity(ALICE_SUB))

    output = ledger_log.getvalue()
    assert '"reason":"pagination_token_bad_mac"' in output
    assert token not in output


# --- the codec alone --------------------------------------------------------------------------------


@pytest.fixture
def codec(kms_key_id: str) -> PaginationTokenCodec:
    return PaginationTokenCodec(boto3.client("kms", region_name=REGION), kms_key_id)


def test_codec_round_trip(codec: PaginationTokenCodec) -> None:
    token = codec.issue(sub=ALICE_SUB, last_sort_key=LAST_KEY, filter_fingerprint="||")

    assert codec.open(token, sub=ALICE_SUB, filter_fingerprint="||") == LAST_KEY


def test_codec_rejects_expired_token(kms_key_id: str) -> None:
    now = [1_000_000.0]
    codec = PaginationTokenCodec(
        boto3.client("kms", region_name=REGION), kms_key_id, ttl_seconds=60, clock=lambda: now[0]
    )
    token = codec.issue(sub=ALICE_SUB, last_sort_key=LAST_KEY, filter_fingerprint="||")
    now[0] += 61

    with pytest.raises(InvalidPaginationTokenError, match="expired"):
        codec.open(token, sub=ALICE_SUB, filter_fingerprint="||")


def test_codec_accepts_token_before_expiry(kms_key_id: str) -> None:
    now = [1_000_000.0]
    codec = PaginationTokenCodec(
        boto3.client("kms", region_name=REGION), kms_key_id, ttl_seconds=60, clock=lambda: now[0]
    )
    token = codec.issue(sub=ALICE_SUB, last_sort_key=LAST_KEY, filter_fingerprint="||")
    now[0] += 59

    assert codec.open(token, sub=ALICE_SUB, filter_fingerprint="||") == LAST_KEY


def test_codec_rejects_token_of_other_key(codec: PaginationTokenCodec, kms_key_id: str) -> None:
    kms = boto3.client("kms", region_name=REGION)
    other_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    foreign = PaginationTokenCodec(kms, other_key).issue(
        sub=ALICE_SUB, last_sort_key=LAST_KEY, filter_fingerprint="||"
    )

    with pytest.raises(InvalidPaginationTokenError, match="MAC did not verify"):
        codec.open(foreign, sub=ALICE_SUB, filter_fingerprint="||")


def test_codec_missing_key_is_unavailable(codec: PaginationTokenCodec) -> None:
    token = codec.issue(sub=ALICE_SUB, last_sort_key=LAST_KEY, filter_fingerprint="||")
    missing = PaginationTokenCodec(boto3.client("kms", region_name=REGION), "alias/does-not-exist")

    with pytest.raises(LedgerUnavailableError, match="KMS VerifyMac failed: NotFoundException"):
        missing.open(token, sub=ALICE_SUB, filter_fingerprint="||")


def test_codec_uses_hmac_sha_256(kms_key_id: str) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    codec = PaginationTokenCodec(RecordingClient(boto3.client("kms", region_name=REGION), calls), kms_key_id)

    token = codec.issue(sub=ALICE_SUB, last_sort_key=LAST_KEY, filter_fingerprint="||")
    codec.open(token, sub=ALICE_SUB, filter_fingerprint="||")

    assert [operation for operation, _ in calls] == ["generate_mac", "verify_mac"]
    assert {parameters["MacAlgorithm"] for _, parameters in calls} == {"HMAC_SHA_256"}
    assert all(ALICE_SUB.encode() in parameters["Message"] for _, parameters in calls)
