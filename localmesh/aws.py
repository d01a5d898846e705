"""The AWS APIs of the mesh on loopback: moto in server mode, and the resources the mesh reads.

moto serves DynamoDB (the ledger table), STS (the ledger reader role's
tagged sessions), KMS (the pagination HMAC key), SSM (the JWKS snapshot) and
AgentCore Memory events. It accepts any credentials and does not evaluate
IAM policies.

NOTE: so the reader role's ``dynamodb:LeadingKeys`` condition, the second
layer of row-level security, is not enforced locally. The ledger's own
partition-key check and the interceptor's identity rewrite are.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Mapping
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.credentials import Credentials
from moto.server import ThreadedMotoServer

from .http import LOOPBACK
from .ledger_data import create_demo_ledger

# moto's default account; every ARN moto returns carries it.
MOTO_ACCOUNT_ID: Final = "123456789012"
_CLIENT_CONFIG: Final = Config(connect_timeout=2, read_timeout=10, retries={"mode": "standard", "max_attempts": 2})

logger = logging.getLogger(__name__)


class LocalAws:
    """moto's server on 127.0.0.1 (a free port), started and stopped with the mesh."""

    def __init__(self, *, region: str) -> None:
        self.region = region
        self._server: ThreadedMotoServer | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """moto's endpoint URL."""
        if self._url is None:
            raise RuntimeError("moto is not running; call start() first")
        return self._url

    def start(self) -> None:
        """Start moto's server in a thread."""
        server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        self._server, self._url = server, f"http://{host}:{port}"

    def stop(self) -> None:
        """Drop moto's state and stop its server. Safe to call twice."""
        server, url = self._server, self._url
        self._server = self._url = None
        if server is None:
            return
        try:
            # moto keeps its backends in module state, which outlives the server thread.
            urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=5).close()
        except OSError as error:
            logger.warning("Resetting moto failed: %s", error)
        server.stop()

    def client(self, service: str, credentials: Credentials) -> Any:
        """Return a boto3 client of ``service`` on moto, signed with ``credentials``."""
        return boto3.session.Session(
            aws_access_key_id=credentials.access_key,
            aws_secret_access_key=credentials.secret_key,
            aws_session_token=credentials.token,
            region_name=self.region,
        ).client(service, endpoint_url=self.url, config=_CLIENT_CONFIG)

    def create_ledger(self, table_name: str, credentials: Credentials) -> None:
        """Create the ledger table and seed Alice's and Bob's items."""
        create_demo_ledger(self.client("dynamodb", credentials), table_name)

    def create_kms_key(self, properties: Mapping[str, Any], credentials: Credentials) -> str:
        """Create a key with the template's KeySpec and KeyUsage; return its ARN."""
        response = self.client("kms", credentials).create_key(
            KeySpec=properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
            KeyUsage=properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
            Description=str(properties.get("Description", "local mesh key"))[:8192],
        )
        return response["KeyMetadata"]["Arn"]
