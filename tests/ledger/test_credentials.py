"""Tests of the per-customer reader credentials: session tag, session name, caching and refresh."""

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ledger.credentials import CustomerCredentialProvider, CustomerCredentials, role_session_name
from ledger.errors import LedgerUnavailableError
from tests.ledger.conftest import READER_ROLE_ARN, REGION, RecordingClient
from tests.support.ledger_data import ALICE_SUB, BOB_SUB


class Clock:
    """A settable clock for cache expiry tests."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_provider(
    calls: list[tuple[str, dict[str, Any]]], clock: Clock, **options: Any
) -> CustomerCredentialProvider:
    sts = RecordingClient(boto3.client("sts", region_name=REGION), calls)
    return CustomerCredentialProvider(sts, READER_ROLE_ARN, lambda credentials: credentials, clock=clock, **options)


def tagged_subs(calls: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [parameters["Tags"][0]["Value"] for _, parameters in calls]


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


def test_provider_sends_session_tag_and_duration(aws: None, clock: Clock) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    make_provider(calls, clock).credentials_for(ALICE_SUB)

    (operation, parameters), = calls
    assert operation == "assume_role"
    assert parameters["Tags"] == [{"Key": "customer", "Value": ALICE_SUB}]
    assert parameters["DurationSeconds"] == 900
    assert parameters["RoleArn"] == READER_ROLE_ARN


def test_provider_caches_per_customer(aws: None, clock: Clock) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    provider = make_provider(calls, clock)

    first = provider.credentials_for(ALICE_SUB)
    second = provider.credentials_for(ALICE_SUB)
    provider.credentials_for(BOB_SUB)

    assert first is second
    assert tagged_subs(calls) == [ALICE_SUB, BOB_SUB]


def test_provider_refreshes_near_expiry(aws: None, clock: Clock) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    provider = make_provider(calls, clock, refresh_margin=timedelta(minutes=5))
    first = provider.credentials_for(ALICE_SUB)

    clock.now = first.expiration - timedelta(minutes=5)
    second = provider.credentials_for(ALICE_SUB)

    assert tagged_subs(calls) == [ALICE_SUB, ALICE_SUB]
    assert second is not first


def test_provider_keeps_fresh_credentials(aws: None, clock: Clock) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    provider = make_provider(calls, clock, refresh_margin=timedelta(minutes=5))
    first = provider.credentials_for(ALICE_SUB)

    clock.now = first.expiration - timedelta(minutes=5, seconds=1)
    provider.credentials_for(ALICE_SUB)

    assert len(calls) == 1


def test_provider_evicts_least_recently_used(aws: None, clock: Clock) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    provider = make_provider(calls, clock, max_cached_customers=2)
    third_sub = "0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f"

    provider.credentials_for(ALICE_SUB)
    provider.credentials_for(BOB_SUB)
    provider.credentials_for(ALICE_SUB)
    provider.credentials_for(third_sub)
    provider.credentials_for(ALICE_SUB)
    provider.credentials_for(BOB_SUB)

    assert tagged_subs(calls) == [ALICE_SUB, BOB_SUB, third_sub, BOB_SUB]


def test_provider_builds_client_once(aws: None, clock: Clock) -> None:
    built: list[CustomerCredentials] = []

    def factory(credentials: CustomerCredentials) -> object:
        built.append(credentials)
        return object()

    sts = boto3.client("sts", region_name=REGION)
    provider = CustomerCredentialProvider(sts, READER_ROLE_ARN, factory, clock=clock)

    first = provider.dynamodb_client(ALICE_SUB)
    second = provider.dynamodb_client(ALICE_SUB)

    assert first is second
    assert len(built) == 1


def test_provider_rejects_zero_cache_size() -> None:
    with pytest.raises(ValueError, match="max_cached_customers must be at least 1"):
        CustomerCredentialProvider(object(), READER_ROLE_ARN, lambda credentials: None, max_cached_customers=0)


def test_provider_maps_sts_error_to_unavailable(clock: Clock) -> None:
    sts = boto3.client("sts", region_name=REGION)
    provider = CustomerCredentialProvider(sts, READER_ROLE_ARN, lambda credentials: credentials, clock=clock)

    with Stubber(sts) as stubber:
        stubber.add_client_error("assume_role", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(LedgerUnavailableError, match="AssumeRole of the reader role failed: AccessDenied"):
            provider.credentials_for(ALICE_SUB)


def test_provider_request_matches_contract(clock: Clock) -> None:
    # The Stubber fails the call unless the parameters are exactly these.
    sts = boto3.client("sts", region_name=REGION)
    expiration = clock.now + timedelta(minutes=15)
    provider = CustomerCredentialProvider(sts, READER_ROLE_ARN, lambda credentials: credentials, clock=clock)

    with Stubber(sts) as stubber:
        stubber.add_response(
            "assume_role",
            {
                "Credentials": {
                    "AccessKeyId": "ASIAEXAMPLEEXAMPLE01",
                    "SecretAccessKey": "secret-access-key-example-0000000000000",
                    "SessionToken": "session-token-example",
                    "Expiration": expiration,
                }
            },
            {
                "RoleArn": READER_ROLE_ARN,
                "RoleSessionName": f"ledger-{ALICE_SUB}",
                "DurationSeconds": 900,
                "Tags": [{"Key": "customer", "Value": ALICE_SUB}],
            },
        )
        credentials = provider.credentials_for(ALICE_SUB)
        stubber.assert_no_pending_responses()

    assert credentials.expiration == expiration


def test_credentials_repr_hides_secrets() -> None:
    credentials = CustomerCredentials(
        access_key_id="ASIAEXAMPLE",
        secret_access_key="very-secret",
        session_token="session-token",
        expiration=datetime(2030, 1, 1, tzinfo=UTC),
    )

    assert "very-secret" not in repr(credentials)
    assert "session-token" not in repr(credentials)


@pytest.mark.parametrize(
    ("sub", "expected"),
    [
        (ALICE_SUB, f"ledger-{ALICE_SUB}"),
        ("user@example.com", "ledger-user@example.com"),
    ],
)
def test_role_session_name_uses_sub_when_valid(sub: str, expected: str) -> None:
    assert role_session_name(sub) == expected


@pytest.mark.parametrize("sub", ["a" * 100, "user:with:colons", "ünïcode"])
def test_role_session_name_hashes_unsafe_sub(sub: str) -> None:
    name = role_session_name(sub)

    assert name.startswith("ledger-")
    assert len(name) <= 64
    assert sub not in name

