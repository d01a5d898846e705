"""Fixtures of the agent tests: both agents on sys.path, loopback servers, tokens and captured logs.

The agents are deployed with their own folder and ``mesh_identity`` at the
code asset's root, so their packages (``support_agent``, ``transaction_agent``)
import as top-level modules. Both folders go on sys.path here; the package
names differ, so they cannot shadow each other. Neither folder's ``main.py``
is imported by name, because both are called ``main``.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

_AGENTS = Path(__file__).resolve().parents[2] / "agents"
for _folder in (_AGENTS / "support", _AGENTS / "transaction"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

import uvicorn  # noqa: E402 - after the sys.path set-up, like the agent imports below

from tests.support.fixtures import (  # noqa: E402,F401 - imported so pytest finds the fixtures
    SESSION_ID,
    captured_logger,
    jwks_cache,
    mesh_verifier_env,
    oidc_issuer,
    token_verifier,
)

LOOPBACK = "127.0.0.1"
# The two markers of a leaked credential: a JWT starts with "eyJ" and a SigV4
# Authorization value with its algorithm name.
SECRET_MARKERS = ("eyJ", "AWS4-HMAC-SHA256")
SERVER_START_TIMEOUT_SECONDS = 10.0


@pytest.fixture(autouse=True)
def _sdk_log_handler_per_test() -> Iterator[None]:
    """Drop the SDK app logger's handler around each test.

    BedrockAgentCoreApp adds a StreamHandler bound to the sys.stderr of the
    moment, which is pytest's capture stream and is closed after the test.
    """
    sdk_logger = logging.getLogger("bedrock_agentcore.app")
    for handler in list(sdk_logger.handlers):
        sdk_logger.removeHandler(handler)
    yield
    for handler in list(sdk_logger.handlers):
        sdk_logger.removeHandler(handler)


@dataclass
class RunningApp:
    """An ASGI app served by uvicorn on a loopback port."""

    base_url: str
    host: str
    port: int


@pytest.fixture
def serve_app() -> Iterator[Callable[[Any], RunningApp]]:
    """Start ASGI apps under uvicorn on 127.0.0.1 (a free port each) and stop them after the test."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: Any) -> RunningApp:
        config = uvicorn.Config(app, host=LOOPBACK, port=0, log_level="warning", lifespan="off", access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="agent-under-test", daemon=True)
        thread.start()
        deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start on 127.0.0.1")
            time.sleep(0.01)
        servers.append((server, thread))
        port = server.servers[0].sockets[0].getsockname()[1]
        return RunningApp(base_url=f"http://{LOOPBACK}:{port}", host=LOOPBACK, port=port)

    yield start

    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=SERVER_START_TIMEOUT_SECONDS)


@dataclass
class RecordedRequest:
    """One request a FakeHttpServer received."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """Return the first value of header ``name`` (case-insensitive), or None."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class CannedResponse:
    """What a FakeHttpServer sends back: status, headers, body and an optional delay (seconds)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    body: bytes = b"{}"
    delay_seconds: float = 0.0


class FakeHttpServer:
    """A loopback HTTP server that records every POST and replies with ``respond(request)``."""

    def __init__(self, respond: Callable[[RecordedRequest], CannedResponse]) -> None:
        self.respond = respond
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        server_self = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - name fixed by http.server
                length = int(self.headers.get("Content-Length", "0"))
                request = RecordedRequest(
                    method="POST", path=self.path, headers=list(self.headers.items()), body=self.rfile.read(length)
                )
                with server_self._lock:
                    server_self.requests.append(request)
                canned = server_self.respond(request)
                if canned.delay_seconds:
                    time.sleep(canned.delay_seconds)
                try:
                    self.send_response(canned.status)
                    for name, value in canned.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(canned.body)))
                    self.end_headers()
                    self.wfile.write(canned.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by http.server
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-http-server", daemon=True
        )

    def __enter__(self) -> FakeHttpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def url(self, path: str = "/mcp") -> str:
        """Return ``http://127.0.0.1:<port><path>``."""
        return f"http://{LOOPBACK}:{self._server.server_address[1]}{path}"


def jsonrpc_result(result: dict[str, Any]) -> Callable[[RecordedRequest], CannedResponse]:
    """Return a responder that replies to each JSON-RPC request with ``result`` under the request's id."""

    def respond(request: RecordedRequest) -> CannedResponse:
        request_id = json.loads(request.body)["id"]
        body = json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}).encode()
        return CannedResponse(body=body)

    return respond


def ledger_text_result(document: dict[str, Any]) -> dict[str, Any]:
    """Return an MCP tools/call result the way a Lambda target's JSON reply reaches MCP: as text content."""
    return {"content": [{"type": "text", "text": json.dumps(document)}], "isError": False}


@pytest.fixture
def fake_server() -> Iterator[Callable[[Callable[[RecordedRequest], CannedResponse]], FakeHttpServer]]:
    """Start FakeHttpServers on loopback for the test and stop them afterwards."""
    servers: list[FakeHttpServer] = []

    def start(respond: Callable[[RecordedRequest], CannedResponse]) -> FakeHttpServer:
        server = FakeHttpServer(respond).__enter__()
        servers.append(server)
        return server

    yield start

    for server in servers:
        server.__exit__(None, None, None)
