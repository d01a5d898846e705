"""Per-customer credentials for the ledger reader role.

Every read runs under credentials from ``sts:AssumeRole`` on the reader role
with the session tag ``customer=<sub>``. The reader role allows
``dynamodb:Query`` only where ``dynamodb:LeadingKeys`` equals
``${aws:PrincipalTag/customer}``, so even a query built for the wrong partition
is rejected by IAM. Credentials and the DynamoDB client built from them are
cached per customer until shortly before they expire.
"""

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from mesh_identity.constants import CUSTOMER_SESSION_TAG

from ledger.errors import LedgerUnavailableError

# 900 seconds is the minimum STS accepts. Role chaining (the function's role
# assuming the reader role) caps a session at one hour.
DEFAULT_SESSION_DURATION_SECONDS: Final = 900
# Cached credentials are replaced this long before they expire, so no request
# starts with credentials that could expire during its DynamoDB calls.
DEFAULT_REFRESH_MARGIN: Final = timedelta(minutes=5)
# Each entry contains a botocore client, so the cache is bounded. A customer
# evicted from it costs one more AssumeRole call.
DEFAULT_MAX_CACHED_CUSTOMERS: Final = 64

SESSION_NAME_PREFIX: Final = "ledger-"
_SESSION_NAME_MAX_LENGTH: Final = 64
_SESSION_NAME_CHARACTERS: Final = re.compile(r"[\w+=,.@-]+", re.ASCII)

_DYNAMODB_CLIENT_CONFIG: Final = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "max_attempts": 3},
)


@dataclass(frozen=True)
class CustomerCredentials:
    """Temporary credentials of the reader role, tagged with one customer's ``sub``."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime


DynamoDbClientFactory = Callable[[CustomerCredentials], Any]


def role_session_name(sub: str) -> str:
    """Return the RoleSessionName for a customer, which CloudTrail records with every read.

    The sub is used as is when it fits the characters and length STS accepts,
    otherwise a SHA-256 prefix of it.
    """
    candidate = SESSION_NAME_PREFIX + sub
    if len(candidate) <= _SESSION_NAME_MAX_LENGTH and _SESSION_NAME_CHARACTERS.fullmatch(candidate):
        return candidate
    return SESSION_NAME_PREFIX + hashlib.sha256(sub.encode()).hexdigest()[:32]


def regional_dynamodb_client_factory(region: str) -> DynamoDbClientFactory:
    """Return a factory of DynamoDB clients for ``region`` that use the given credentials."""

    def create(credentials: CustomerCredentials) -> Any:
        session = boto3.session.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            region_name=region,
        )
        return session.client("dynamodb", config=_DYNAMODB_CLIENT_CONFIG)

    return create


@dataclass
class _CacheEntry:
    credentials: CustomerCredentials
    dynamodb_client: Any


class CustomerCredentialProvider:
    """Assume the reader role per customer and cache the credentials and a DynamoDB client for each."""

    def __init__(
        self,
        sts_client: Any,
        role_arn: str,
        dynamodb_client_factory: DynamoDbClientFactory,
        *,
        session_duration_seconds: int = DEFAULT_SESSION_DURATION_SECONDS,
        refresh_margin: timedelta = DEFAULT_REFRESH_MARGIN,
        max_cached_customers: int = DEFAULT_MAX_CACHED_CUSTOMERS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if max_cached_customers < 1:
            raise ValueError(f"max_cached_customers must be at least 1, received {max_cached_customers}.")
        self._sts = sts_client
        self._role_arn = role_arn
        self._client_factory = dynamodb_client_factory
        self._duration_seconds = session_duration_seconds
        self._refresh_margin = refresh_margin
        self._max_entries = max_cached_customers
        self._clock = clock
        self._entries: OrderedDict[str, _CacheEntry] = OrderedDict()
        self._lock = threading.Lock()

    def dynamodb_client(self, sub: str) -> Any:
        """Return a DynamoDB client whose credentials are scoped to ``sub`` by the session tag."""
        return self._entry(sub).dynamodb_client

    def credentials_for(self, sub: str) -> CustomerCredentials:
        """Return reader credentials tagged with ``sub``, from the cache while they stay fresh."""
        return self._entry(sub).credentials

    def _entry(self, sub: str) -> _CacheEntry:
        with self._lock:
            entry = self._entries.get(sub)
            if entry is not None and self._is_fresh(entry.credentials):
                self._entries.move_to_end(sub)
                return entry

        credentials = self._assume_role(sub)
        entry = _CacheEntry(credentials=credentials, dynamodb_client=self._client_factory(credentials))

        with self._lock:
            self._entries[sub] = entry
            self._entries.move_to_end(sub)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return entry

    def _is_fresh(self, credentials: CustomerCredentials) -> bool:
        return self._clock() < credentials.expiration - self._refresh_margin

    def _assume_role(self, sub: str) -> CustomerCredentials:
        try:
            response = self._sts.assume_role(
                RoleArn=self._role_arn,
                RoleSessionName=role_session_name(sub),
                DurationSeconds=self._duration_seconds,
                Tags=[{"Key": CUSTOMER_SESSION_TAG, "Value": sub}],
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "Unknown")
            raise LedgerUnavailableError(f"STS AssumeRole of the reader role failed: {code}") from error
        except BotoCoreError as error:
            raise LedgerUnavailableError(f"STS AssumeRole of the reader role failed: {type(error).__name__}") from error

        raw = response["Credentials"]
        expiration = raw["Expiration"]
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=UTC)
        return CustomerCredentials(
            access_key_id=raw["AccessKeyId"],
            secret_access_key=raw["SecretAccessKey"],
            session_token=raw["SessionToken"],
            expiration=expiration,
        )
