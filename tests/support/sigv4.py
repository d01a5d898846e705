"""SigV4 verification for tests and the local mesh: recompute the signature the way AWS does.

The receiver takes the ``Authorization`` header apart, rebuilds the canonical
request from only the headers listed in ``SignedHeaders``, signs it again
with the caller's secret key and the request's ``X-Amz-Date``, and compares
the result in constant time. botocore's `SigV4Auth` does the canonicalisation,
so these checks test the mesh's headers, not a second SigV4 implementation.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


@dataclass(frozen=True)
class ParsedAuthorization:
    """The parts of a SigV4 ``Authorization`` header value."""

    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> ParsedAuthorization:
    """Split ``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`` into its parts."""
    algorithm, _, rest = value.partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        raise ValueError(f"unsupported algorithm {algorithm!r}")
    parts = dict(part.strip().split("=", 1) for part in rest.split(","))
    access_key, date, region, service, terminator = parts["Credential"].split("/")
    if terminator != "aws4_request":
        raise ValueError("credential scope does not end with aws4_request")
    return ParsedAuthorization(
        access_key=access_key,
        date=date,
        region=region,
        service=service,
        signed_headers=tuple(parts["SignedHeaders"].split(";")),
        signature=parts["Signature"],
    )


def verify_sigv4(
    method: str,
    url: str,
    headers: Mapping[str, str | bytes],
    body: bytes | str | None,
    *,
    secret_key: str,
    session_token: str | None = None,
) -> bool:
    """Return True if the request's SigV4 signature is valid for ``secret_key``.

    ``headers`` may hold bytes values, as botocore's prepared requests do.
    """
    lowered = {
        name.lower(): value.decode("utf-8") if isinstance(value, bytes) else value for name, value in headers.items()
    }
    parsed = parse_authorization(lowered["authorization"])
    amz_date = lowered["x-amz-date"]
    if not amz_date.startswith(parsed.date):
        return False

    signed_only = {name: lowered[name] for name in parsed.signed_headers if name in lowered}
    # A listed header that is absent fails, except host, which the URL supplies.
    if set(parsed.signed_headers) - set(signed_only) - {"host"}:
        return False
    request = AWSRequest(method=method, url=url, data=body, headers=signed_only)
    request.context["timestamp"] = amz_date

    signer = SigV4Auth(Credentials(parsed.access_key, secret_key, session_token), parsed.service, parsed.region)
    canonical_request = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical_request)
    expected = signer.signature(string_to_sign, request)
    return hmac.compare_digest(expected, parsed.signature)
