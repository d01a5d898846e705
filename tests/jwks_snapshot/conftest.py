"""Fixtures of the JWKS snapshot tests: real RSA keys, a JWKS server on 127.0.0.1, and moto SSM."""

import base64
import http.server
import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from moto import mock_aws

from jwks_snapshot import handler
from jwks_snapshot.config import SnapshotConfig
from jwks_snapshot.fetch import fetch_jwks_document
from jwks_snapshot.snapshot import JwksSnapshotter

PARAMETER_NAME = "/agent-mesh/test/cognito-jwks"
REGION = "us-east-1"
# Short enough that the timeout test stays fast, long enough for a loaded CI machine.
TEST_FETCH_TIMEOUT_SECONDS = 1.0


def _base64url_uint(value: int) -> str:
    length = max(1, (value.bit_length() + 7) // 8)
    return base64.urlsafe_b64encode(value.to_bytes(length, "big")).rstrip(b"=").decode()


def rsa_private_jwk(kid: str, bits: int = 2048) -> dict[str, Any]:
    """Return a full RSA private JWK with the members of RFC 7518, section 6.3.2."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    numbers = private_key.private_numbers()
    public = numbers.public_numbers
    return {
        "kty": "RSA",
        "kid": kid,
        "alg": "RS256",
        "use": "sig",
        "n": _base64url_uint(public.n),
        "e": _base64url_uint(public.e),
        "d": _base64url_uint(numbers.d),
        "p": _base64url_uint(numbers.p),
        "q": _base64url_uint(numbers.q),
        "dp": _base64url_uint(numbers.dmp1),
        "dq": _base64url_uint(numbers.dmq1),
        "qi": _base64url_uint(numbers.iqmp),
    }


def public_jwk(private_jwk: dict[str, Any]) -> dict[str, Any]:
    """Return the public members of a JWK, the form Cognito publishes."""
    return {name: private_jwk[name] for name in ("kty", "kid", "alg", "use", "n", "e")}


def ec_public_jwk(kid: str) -> dict[str, Any]:
    """Return a P-256 public JWK, which the snapshot must reject."""
    numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    return {"kty": "EC", "kid": kid, "crv": "P-256", "x": _base64url_uint(numbers.x), "y": _base64url_uint(numbers.y)}


@pytest.fixture(scope="session")
def rsa_keys() -> list[dict[str, Any]]:
    """Three RSA-2048 private JWKs, generated once per test session."""
    return [rsa_private_jwk(f"kid-{index}") for index in range(3)]


@pytest.fixture(scope="session")
def jwks(rsa_keys: list[dict[str, Any]]) -> dict[str, Any]:
    """A Cognito-like JWKS with two public keys."""
    return {"keys": [public_jwk(rsa_keys[0]), public_jwk(rsa_keys[1])]}


@dataclass
class ServedResponse:
    """What the local JWKS server returns to the next GET."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay_seconds: float = 0.0
    # False sends no Content-Length, so the client reads until the server closes the connection.
    send_content_length: bool = True
    requests: int = 0


class JwksServer:
    """An http.server on 127.0.0.1 that returns the configured response to every GET."""

    def __init__(self) -> None:
        self.response = ServedResponse()
        served = self.response

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - name fixed by http.server
                served.requests += 1
                if served.delay_seconds:
                    time.sleep(served.delay_seconds)
                self.send_response(served.status)
                for name, value in served.headers.items():
                    self.send_header(name, value)
                if served.send_content_length:
                    self.send_header("Content-Length", str(len(served.body)))
                self.end_headers()
                self.wfile.write(served.body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by http.server
                return None

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval lets stop() return quickly. The default is 0.5 seconds.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        """The JWKS URL of this server."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/us-east-1_TestPool/.well-known/jwks.json"

    def serve_json(self, document: Any) -> None:
        """Return ``document`` as JSON from now on."""
        self.response.status = 200
        self.response.body = json.dumps(document).encode()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def jwks_server(jwks: dict[str, Any]) -> Iterator[JwksServer]:
    server = JwksServer()
    server.serve_json(jwks)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def ssm() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ssm", region_name=REGION)


@pytest.fixture
def snapshot_config(jwks_server: JwksServer) -> SnapshotConfig:
    return SnapshotConfig.from_environment(
        {
            "JWKS_URL": jwks_server.url,
            "JWKS_PARAMETER_NAME": PARAMETER_NAME,
            "JWKS_ALLOW_LOOPBACK_HTTP": "true",
        }
    )


@pytest.fixture
def snapshotter(snapshot_config: SnapshotConfig, ssm: Any) -> JwksSnapshotter:
    fetch = partial(fetch_jwks_document, timeout_seconds=TEST_FETCH_TIMEOUT_SECONDS)
    return handler.build_snapshotter(snapshot_config, ssm_client=ssm, fetch=fetch)


@pytest.fixture
def snapshot_log() -> Iterator[io.StringIO]:
    """Collect the function logger's JSON output, which Powertools writes to its own handler."""
    stream = io.StringIO()
    log_handler = logging.StreamHandler(stream)
    log_handler.setFormatter(handler.logger.registered_formatter)
    handler.logger.addHandler(log_handler)
    yield stream
    handler.logger.removeHandler(log_handler)


def custom_resource_event(request_type: str, physical_resource_id: str | None = None) -> dict[str, Any]:
    """Return a custom resource request as CloudFormation sends it to the function."""
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider-framework-onEvent",
        "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/example",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/identity/0000",
        "RequestId": "5d5a2f9c-1111-4222-8333-444455556666",
        "LogicalResourceId": "JwksSnapshot",
        "ResourceType": "Custom::JwksSnapshot",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:...", "DeployNonce": "1"},
    }
    if physical_resource_id is not None:
        event["PhysicalResourceId"] = physical_resource_id
    return event


SCHEDULE_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2025-03-01T10:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/jwks-snapshot-hourly"],
    "detail": {},
}
