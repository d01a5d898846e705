"""Loopback HTTP plumbing shared by the stand-ins: a threaded server, JSON replies and a raw client.

The stand-ins use the standard library's ``http.server`` because it hands
over every header line as sent (duplicates and letter case included), which
the trust checks need to see.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import urlsplit

from .sigv4 import ReceivedRequest

LOOPBACK: Final = "127.0.0.1"
# How often a server thread checks for shutdown (seconds). The default of 0.5 s
# would add that much to every stop.
POLL_SECONDS: Final = 0.02
# Largest request body a stand-in reads (bytes). Mesh payloads are a few KB.
MAX_REQUEST_BYTES: Final = 1024 * 1024
DEFAULT_TIMEOUT_SECONDS: Final = 30.0

logger = logging.getLogger(__name__)


@dataclass
class Reply:
    """What a stand-in sends back."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, document: Any, headers: Mapping[str, str] | None = None) -> Reply:
        """Build a reply with a JSON body."""
        return cls(
            status=status,
            body=json.dumps(document, separators=(",", ":")).encode("utf-8"),
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    @classmethod
    def aws_error(cls, status: int, error_code: str, message: str) -> Reply:
        """Build an AWS REST-JSON error reply, which botocore turns into a ClientError with ``error_code``."""
        return cls.json(status, {"message": message}, {"x-amzn-ErrorType": error_code})


RequestHandler = Callable[[ReceivedRequest], Reply]


class _ConnectionTrackingServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that can close its open keep-alive connections and join their threads."""

    # Non-daemon handler threads are joined by server_close (block_on_close),
    # so a stopped server leaves no thread behind.
    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._open_connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._open_connections.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        """Shut down every open client connection, so idle keep-alive handlers return."""
        with self._connections_lock:
            connections = list(self._open_connections)
        for connection in connections:
            # OSError means the client closed the connection first.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 (a free port) that passes each request to ``handle``.

    ``handle`` should not raise. An exception is logged and the client receives HTTP 500.
    """

    def __init__(self, name: str, handle: RequestHandler) -> None:
        self.name = name
        self._handle = handle
        self._server: _ConnectionTrackingServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start serving; the port is chosen by the operating system."""
        if self._server is not None:
            return
        server = _ConnectionTrackingServer((LOOPBACK, 0), _handler_class(self.name, self._handle))
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, name=self.name, daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.close_open_connections()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def is_running(self) -> bool:
        """Whether the server has been started and not stopped since."""
        return self._server is not None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``; the server must be running."""
        if self._server is None:
            raise RuntimeError(f"{self.name} is not running; call start() first")
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"


def _handler_class(name: str, handle: RequestHandler) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # The reply goes out in two writes (headers, body). With Nagle's
            # algorithm on, the body waits for the client's delayed ACK of the
            # headers, about 40 ms on Linux, on every request.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:  # noqa: N802 - name fixed by http.server
            self._dispatch()

        def do_POST(self) -> None:  # noqa: N802 - name fixed by http.server
            self._dispatch()

        def do_PUT(self) -> None:  # noqa: N802 - name fixed by http.server
            self._dispatch()

        def do_DELETE(self) -> None:  # noqa: N802 - name fixed by http.server
            self._dispatch()

        def _dispatch(self) -> None:
            if self.headers.get_all("Transfer-Encoding"):
                # Every client of the mesh sends Content-Length; a chunked body
                # would otherwise be read as empty and fail later for a less clear reason.
                self._send(Reply.json(400, {"message": "Transfer-Encoding is not supported; send Content-Length."}))
                self.close_connection = True
                return
            length_values = self.headers.get_all("Content-Length") or []
            try:
                length = int(length_values[0]) if len(length_values) == 1 else 0
            except ValueError:
                length = -1
            if len(length_values) > 1 or not 0 <= length <= MAX_REQUEST_BYTES:
                self._send(Reply.json(400, {"message": "Content-Length is missing, repeated or too large."}))
                self.close_connection = True
                return

            request = ReceivedRequest(
                method=self.command,
                target=self.path,
                headers=list(self.headers.items()),
                body=self.rfile.read(length),
            )
            try:
                reply = handle(request)
            except Exception:  # noqa: BLE001 - a stand-in must answer even when it has a bug
                logger.exception("%s failed to handle a request", name)
                reply = Reply.json(500, {"message": "The local stand-in failed; see its log."})
            self._send(reply)

        def _send(self, reply: Reply) -> None:
            try:
                self.send_response(reply.status)
                for header, value in reply.headers.items():
                    self.send_header(header, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                logger.info("%s: the client closed the connection before the reply was sent", name)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by http.server
            pass

    return _Handler


@dataclass(frozen=True)
class RawResponse:
    """Status, headers and body of a reply received by `send_raw`."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        """Decode the body as JSON; an empty body is None."""
        return json.loads(self.body) if self.body else None

    def header(self, name: str) -> str | None:
        """Return the first value of header ``name`` (case-insensitive), or None."""
        for header, value in self.headers:
            if header.lower() == name.lower():
                return value
        return None


def send_raw(
    method: str,
    url: str,
    *,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> RawResponse:
    """Send one request with each (name, value) pair as its own header line, duplicates included.

    Only ``http://127.0.0.1`` URLs are accepted: the local mesh never talks to another host.
    """
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname != LOOPBACK:
        raise ValueError(f"send_raw sends only to http://{LOOPBACK}, received {url!r}")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query

    connection = http.client.HTTPConnection(LOOPBACK, parts.port, timeout=timeout)
    try:
        names = {name.lower() for name, _ in headers}
        connection.putrequest(method, target, skip_host="host" in names, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        if "content-length" not in names:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return RawResponse(status=response.status, headers=list(response.getheaders()), body=response.read())
    finally:
        connection.close()
