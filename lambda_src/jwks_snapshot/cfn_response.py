"""The CloudFormation custom-resource response, sent by the function itself.

CloudFormation invokes the function directly (the stack adds no provider
framework function), so the function must PUT its result to the pre-signed
``ResponseURL`` of the event. Without a response the stack waits until the
resource's service timeout. Protocol:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, Final

SUCCESS: Final = "SUCCESS"
FAILED: Final = "FAILED"
DEFAULT_TIMEOUT_SECONDS: Final = 10.0
# CloudFormation rejects a response body larger than 4 KB.
MAX_RESPONSE_BYTES: Final = 4096


class ResponseUrlError(ValueError):
    """The event's ResponseURL is not an https URL, so no response is sent to it."""


def build_response(
    event: Mapping[str, Any], *, status: str, physical_resource_id: str, reason: str, data: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Build the response document for ``event``; ``reason`` must hold no secret."""
    return {
        "Status": status,
        "Reason": reason[:512],
        "PhysicalResourceId": physical_resource_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": dict(data or {}),
    }


def send_response(event: Mapping[str, Any], response: Mapping[str, Any], *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> int:
    """PUT ``response`` to the event's ResponseURL and return the HTTP status."""
    url = str(event.get("ResponseURL", ""))
    if urllib.parse.urlsplit(url).scheme != "https":
        raise ResponseUrlError(f"ResponseURL must be an https URL, got scheme {urllib.parse.urlsplit(url).scheme!r}")
    body = json.dumps(response).encode()
    if len(body) > MAX_RESPONSE_BYTES:
        raise ValueError(f"custom resource response is {len(body)} bytes; CloudFormation accepts at most {MAX_RESPONSE_BYTES}")
    # The pre-signed URL was signed for an empty Content-Type.
    request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))})
    with urllib.request.urlopen(request, timeout=timeout_seconds) as reply:  # noqa: S310 - scheme checked above
        return reply.status
