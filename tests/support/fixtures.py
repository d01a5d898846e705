"""pytest fixtures for tests of the mesh's identity code.

Import the ones a test folder needs in its own ``conftest.py``::

    from tests.support.fixtures import oidc_issuer, token_verifier  # noqa: F401
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from mesh_identity import constants
from mesh_identity.jwks import JwksCache, UrlJwksSource
from mesh_identity.tokens import TokenVerifier

from tests.support.oidc import LocalOidcIssuer

# A runtime session id of the kind AgentCore Runtime accepts (at least 33 characters).
SESSION_ID = "mesh-session-0123456789abcdef0123456789abcdef"


class FakeClock:
    """A settable clock for `JwksCache` (monotonic) or `TokenVerifier` (epoch seconds)."""

    def __init__(self, now: float) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self.now += seconds


@dataclass
class FakeLambdaContext:
    """The attributes of a Lambda context object that Powertools reads."""

    function_name: str = "mesh-test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:mesh-test-function"
    aws_request_id: str = "3b8a7f1e-0000-4000-8000-000000000001"
    log_group_name: str = "/aws/lambda/mesh-test-function"
    log_stream_name: str = "2026/01/01/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@dataclass
class CapturedLogger:
    """A Powertools `Logger` that writes JSON lines to memory, and the text it wrote."""

    logger: Logger
    stream: io.StringIO = field(repr=False)

    @property
    def text(self) -> str:
        """Everything logged so far."""
        return self.stream.getvalue()

    def records(self) -> list[dict[str, Any]]:
        """Every log line, parsed from JSON."""
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def audit_records(self) -> list[dict[str, Any]]:
        """The ``audit`` objects of the audit records logged so far."""
        return [record["audit"] for record in self.records() if "audit" in record]


@pytest.fixture
def captured_logger() -> CapturedLogger:
    """A Powertools Logger with its own service name that logs to memory."""
    stream = io.StringIO()
    # Letters only, so no digit run in the service name looks like an account id.
    logger = Logger(service=f"mesh-test-{uuid.uuid4().hex.translate(str.maketrans('0123456789', 'ghijklmnop'))}", stream=stream)
    return CapturedLogger(logger=logger, stream=stream)


@pytest.fixture
def oidc_issuer() -> Iterator[LocalOidcIssuer]:
    """A running local Cognito-shaped issuer, stopped after the test."""
    with LocalOidcIssuer() as issuer:
        yield issuer


@pytest.fixture
def jwks_cache(oidc_issuer: LocalOidcIssuer) -> JwksCache:
    """A key cache reading the local issuer's JWKS over loopback HTTP."""
    return JwksCache(UrlJwksSource(oidc_issuer.jwks_url))


@pytest.fixture
def token_verifier(oidc_issuer: LocalOidcIssuer, jwks_cache: JwksCache) -> TokenVerifier:
    """A verifier that accepts the local issuer's tokens for its default app client."""
    return TokenVerifier(issuer=oidc_issuer.issuer, allowed_client_ids=[oidc_issuer.client_id], keys=jwks_cache)


@pytest.fixture
def mesh_verifier_env(monkeypatch: pytest.MonkeyPatch, oidc_issuer: LocalOidcIssuer) -> dict[str, str]:
    """Set the ``MESH_*`` verifier variables to the local issuer and return them."""
    environment = {
        constants.ENV_ISSUER: oidc_issuer.issuer,
        constants.ENV_ALLOWED_CLIENT_IDS: oidc_issuer.client_id,
        constants.ENV_JWKS_URL: oidc_issuer.jwks_url,
    }
    monkeypatch.delenv(constants.ENV_JWKS_PARAMETER_NAME, raising=False)
    monkeypatch.delenv(constants.ENV_REQUIRED_SCOPES, raising=False)
    monkeypatch.delenv(constants.ENV_JWKS_REFRESH_COOLDOWN_SECONDS, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    """A fake Lambda context for handlers decorated with Powertools."""
    return FakeLambdaContext()
