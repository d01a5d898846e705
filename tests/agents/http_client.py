"""A minimal HTTP client for the agent tests that can send one header name several times."""

from __future__ import annotations

import http.client
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class HttpReply:
    """Status and decoded JSON body of a reply."""

    status: int
    body: Any


def request_json(
    method: str, url: str, *, headers: Sequence[tuple[str, str]] = (), payload: Any = None, timeout: float = 10.0
) -> HttpReply:
    """Send ``payload`` as JSON with each (name, value) pair as its own header line; return the reply.

    ``http.client`` is used rather than urllib because it sends every header
    line as given, duplicates included.
    """
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        body = b"" if payload is None else json.dumps(payload).encode("utf-8")
        connection.putrequest(method, parts.path or "/")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(len(body)))
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        raw = response.read()
        return HttpReply(status=response.status, body=json.loads(raw) if raw else None)
    finally:
        connection.close()
