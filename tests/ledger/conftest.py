"""Fixtures of the ledger tests: moto DynamoDB, STS and KMS, recording clients, a fake Lambda context."""

import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from mesh_identity.constants import SCOPE_ACCOUNTS_READ, SCOPE_TRANSACTIONS_READ, VERIFIED_IDENTITY_KEY
from moto import mock_aws

from ledger import handler
from ledger.config import LedgerConfig
from ledger.credentials import CustomerCredentials
from ledger.tools import LedgerService
from tests.support.ledger_data import ALICE_SUB, create_demo_ledger

REGION = "us-east-1"
TABLE_NAME = "ledger-test"
READER_ROLE_ARN = "arn:aws:iam::123456789012:role/ledger-reader"
SESSION_ID = "session-0123456789abcdef0123456789abcdef"
CLIENT_ID = "3n4b5c6d7e8f9g0h1i2j3k4l5m"
GATEWAY_ID = "mesh-gateway-abc123"
BOTH_SCOPES = [SCOPE_ACCOUNTS_READ, SCOPE_TRANSACTIONS_READ]


class RecordingClient:
    """Delegate to a boto3 client and record every operation called on it, with its parameters."""

    def __init__(self, client: Any, calls: list[tuple[str, dict[str, Any]]]) -> None:
        self._client = client
        self.calls = calls

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name.startswith("_") or name in {"meta", "exceptions"} or not callable(attribute):
            return attribute

        def record(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return attribute(*args, **kwargs)

        return record


class CrossTenantClient:
    """A DynamoDB client double that returns another customer's item, as a broken query would."""

    def query(self, **parameters: Any) -> dict[str, Any]:
        return {
            "Items": [
                {
                    "customer_id": {"S": ALICE_SUB},
                    "transaction_id": {"S": "TXN#2025-01-31T09:00:00Z#a-0001"},
                    "amount": {"N": "3200.00"},
                    "currency": {"S": "USD"},
                    "booked_at": {"S": "2025-01-31T09:00:00Z"},
                    "description": {"S": "Salary January"},
                }
            ]
        }


@dataclass
class FakeClientContext:
    custom: dict[str, Any]


@dataclass
class FakeLambdaContext:
    """The attributes of a Lambda context that the handler and Powertools read."""

    client_context: FakeClientContext | None
    function_name: str = "ledger"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:ledger"
    aws_request_id: str = "4b2f7c1e-0000-4000-8000-000000000001"


def gateway_context(tool: str, target: str = "ledger-target") -> FakeLambdaContext:
    """Return a Lambda context as the Gateway sets it for ``<target>___<tool>``."""
    return FakeLambdaContext(
        client_context=FakeClientContext(
            custom={
                "bedrockAgentCoreToolName": f"{target}___{tool}",
                "bedrockAgentCoreGatewayId": GATEWAY_ID,
                "bedrockAgentCoreTargetId": "TARGET0001",
                "bedrockAgentCoreMcpMessageId": "7",
                "bedrockAgentCoreAwsRequestId": "gw-request-1",
                "bedrockAgentCoreMessageVersion": "1.0",
            }
        )
    )


def verified_identity(sub: str, scopes: Any = None) -> dict[str, Any]:
    """Return the identity object the interceptor writes for ``sub``."""
    return {
        "sub": sub,
        "scopes": BOTH_SCOPES if scopes is None else scopes,
        "client_id": CLIENT_ID,
        "session_id": SESSION_ID,
    }


@dataclass
class LedgerHarness:
    """The ledger service wired to moto, with records of every AWS call and audit record."""

    service: LedgerService
    dynamodb: Any
    kms_key_id: str
    sts_calls: list[tuple[str, dict[str, Any]]]
    reader_calls: list[tuple[str, dict[str, Any]]]
    reader_credentials: list[CustomerCredentials]
    audit_records: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, tool: str, arguments: dict[str, Any], identity: dict[str, Any] | None) -> dict[str, Any]:
        """Call the handler as the Gateway would, with ``identity`` under the verified-identity key."""
        event = dict(arguments)
        if identity is not None:
            event[VERIFIED_IDENTITY_KEY] = identity
        return handler.handle(event, gateway_context(tool), self.service)

    def table_items(self) -> list[dict[str, Any]]:
        """Return every item of the table, read with the test's own unscoped client."""
        items = self.dynamodb.scan(TableName=TABLE_NAME)["Items"]
        return sorted(items, key=lambda item: (item["customer_id"]["S"], item["transaction_id"]["S"]))


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def ledger_log() -> Iterator[io.StringIO]:
    """Collect the ledger logger's JSON output.

    Powertools binds its stdout handler when the logger is created, so capsys does not see it.
    """
    stream = io.StringIO()
    log_handler = logging.StreamHandler(stream)
    log_handler.setFormatter(handler.logger.registered_formatter)
    handler.logger.addHandler(log_handler)
    yield stream
    handler.logger.removeHandler(log_handler)


@pytest.fixture
def config() -> LedgerConfig:
    return LedgerConfig(
        table_name=TABLE_NAME,
        reader_role_arn=READER_ROLE_ARN,
        pagination_key_id="alias/ledger-pagination",
        region=REGION,
    )


@pytest.fixture
def kms_key_id(aws: None) -> str:
    kms = boto3.client("kms", region_name=REGION)
    key_id = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/ledger-pagination", TargetKeyId=key_id)
    return key_id


@pytest.fixture
def dynamodb(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    create_demo_ledger(client, TABLE_NAME)
    return client


@pytest.fixture
def harness(
    config: LedgerConfig, dynamodb: Any, kms_key_id: str, monkeypatch: pytest.MonkeyPatch
) -> LedgerHarness:
    sts_calls: list[tuple[str, dict[str, Any]]] = []
    reader_calls: list[tuple[str, dict[str, Any]]] = []
    reader_credentials: list[CustomerCredentials] = []

    def reader_client(credentials: CustomerCredentials) -> Any:
        reader_credentials.append(credentials)
        client = boto3.session.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            region_name=REGION,
        ).client("dynamodb")
        return RecordingClient(client, reader_calls)

    service = handler.build_service(
        config,
        sts_client=RecordingClient(boto3.client("sts", region_name=REGION), sts_calls),
        kms_client=boto3.client("kms", region_name=REGION),
        dynamodb_client_factory=reader_client,
    )
    result = LedgerHarness(
        service=service,
        dynamodb=dynamodb,
        kms_key_id=kms_key_id,
        sts_calls=sts_calls,
        reader_calls=reader_calls,
        reader_credentials=reader_credentials,
    )
    monkeypatch.setattr(handler, "audit", _recording_audit(handler.audit, result.audit_records))
    return result


def _recording_audit(real_audit: Callable[..., Any], records: list[dict[str, Any]]) -> Callable[..., Any]:
    """Wrap the real audit function and keep the arguments of each call, without the logger."""

    def record(hop: str, decision: str, reason: str, **kwargs: Any) -> Any:
        entry = real_audit(hop, decision, reason, **kwargs)
        fields = {name: value for name, value in kwargs.items() if name != "logger"}
        records.append({"hop": hop, "decision": decision, "reason": reason, **fields})
        return entry

    return record
