"""Sources of the user pool's signing keys (JWKS) and an in-memory key cache.

Nothing in the mesh fetches keys from Cognito at request time: the mesh VPC
has no internet route. A deploy-time step copies the pool's JWKS into an SSM
parameter, and `SsmParameterJwksSource` reads it through the SSM interface
endpoint. `UrlJwksSource` reads a JWKS over HTTP, for tests and the local mesh.

`JwksCache` is the only place a verifier gets keys from. It selects a key by
``kid`` alone and never by the token's ``jwk``, ``jku``, ``x5u`` or ``x5c``
headers, because those let the token's author choose the key.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

from cryptography.hazmat.primitives.asymmetric import rsa

from .errors import JwksFetchError, KeysUnavailable, UnknownKey

logger = logging.getLogger(__name__)

# A Cognito JWKS contains two keys in about 1 KB. Anything far larger is not a JWKS.
MAX_JWKS_BYTES: Final = 64 * 1024
# Keys shorter than this are rejected (bits). RFC 7518 section 3.3 requires at least 2048 for RS256.
MIN_RSA_KEY_BITS: Final = 2048
# Longest accepted ``kid`` (characters). Cognito's kids are 44-character base64 strings.
MAX_KID_LENGTH: Final = 256

_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]+")
# JWK members that only an RSA private key has.
_PRIVATE_KEY_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})


class JwksSource(Protocol):
    """Anything that returns the current JWKS document ``{"keys": [...]}``."""

    def fetch(self) -> dict[str, Any]:
        """Return the JWKS document, or raise `JwksFetchError`."""
        ...


class SsmParameterJwksSource:
    """Read the JWKS document from an SSM parameter written at deploy time and hourly.

    Parameters
    ----------
    parameter_name:
        Name or ARN of the String (or SecureString) parameter holding the JWKS JSON.
    ssm_client:
        A boto3 SSM client. Created on first use when omitted, so a cold start
        that never verifies a token makes no SSM call.
    """

    def __init__(self, parameter_name: str, ssm_client: Any | None = None) -> None:
        if not parameter_name:
            raise ValueError("parameter_name is empty; pass the name of the SSM parameter that contains the JWKS")
        self.parameter_name = parameter_name
        self._ssm_client = ssm_client

    def fetch(self) -> dict[str, Any]:
        """Return the JWKS document stored in the parameter.

        Raises `JwksFetchError` when the read fails or the value is not a JWKS.
        """
        # botocore is imported here so that code using only UrlJwksSource
        # (the local mesh) does not pay for importing it.
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client().get_parameter(Name=self.parameter_name, WithDecryption=True)
        except (BotoCoreError, ClientError) as error:
            raise JwksFetchError(
                f"Reading SSM parameter {self.parameter_name!r} failed: {error}. "
                "Check that the parameter exists and the role may call ssm:GetParameter on it."
            ) from error

        value = response["Parameter"]["Value"]
        return parse_jwks_document(value, source=f"SSM parameter {self.parameter_name!r}")

    def _client(self) -> Any:
        if self._ssm_client is None:
            import boto3

            self._ssm_client = boto3.client("ssm")
        return self._ssm_client


class UrlJwksSource:
    """Read the JWKS document over HTTP(S), for tests and the local mesh.

    The request goes direct: no proxy from the environment, and redirects are
    not followed, so the configured URL is the only place keys come from.
    """

    def __init__(self, url: str, timeout_seconds: float = 2.0) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("https", "http") or not parsed.netloc:
            raise ValueError(f"JWKS URL must be an absolute http(s) URL, received {url!r}")
        if not timeout_seconds > 0:
            raise ValueError(f"timeout_seconds must be positive, received {timeout_seconds!r}")
        self.url = url
        self.timeout_seconds = timeout_seconds
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), _RejectRedirects()
        )

    def fetch(self) -> dict[str, Any]:
        """Return the JWKS document served at the URL, or raise `JwksFetchError`."""
        request = urllib.request.Request(self.url, headers={"Accept": "application/json"})
        try:
            with self._opener.open(request, timeout=self.timeout_seconds) as response:
                body = response.read(MAX_JWKS_BYTES + 1)
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise JwksFetchError(f"Fetching the JWKS from {self.url} failed: {error}") from error

        if len(body) > MAX_JWKS_BYTES:
            raise JwksFetchError(
                f"The JWKS at {self.url} is larger than {MAX_JWKS_BYTES} bytes; expected a small key set"
            )
        return parse_jwks_document(body, source=self.url)


class _RejectRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201
        raise urllib.error.HTTPError(
            req.full_url, code, f"redirect to {newurl} rejected", headers, fp
        )


def parse_jwks_document(raw: str | bytes, *, source: str) -> dict[str, Any]:
    """Parse a JWKS document and check its outer shape ``{"keys": [ ... ]}``."""
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise JwksFetchError(f"The JWKS from {source} is not valid JSON: {error}") from error

    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksFetchError(
            f'The JWKS from {source} must be a JSON object with a "keys" array'
        )
    return document


def rsa_keys_from_jwks(document: Mapping[str, Any]) -> dict[str, rsa.RSAPublicKey]:
    """Return the RS256 verification keys of a JWKS document, keyed by ``kid``.

    A key is used only if it is an RSA public key of at least 2048 bits with a
    ``kid``, and its ``alg``, ``use`` and ``key_ops`` members, where present,
    allow RS256 signature verification. Other keys are skipped with a warning.
    A ``kid`` that appears twice is dropped entirely, because either key could
    be meant.
    """
    keys: dict[str, rsa.RSAPublicKey] = {}
    duplicate_kids: set[str] = set()

    for index, jwk in enumerate(document.get("keys", [])):
        try:
            kid, public_key = _rsa_key_from_jwk(jwk)
        except ValueError as error:
            logger.warning("Skipping JWKS key %d: %s", index, error)
            continue

        if kid in keys or kid in duplicate_kids:
            duplicate_kids.add(kid)
            keys.pop(kid, None)
            logger.warning("Skipping every JWKS key with kid %r: the kid appears more than once", kid)
            continue
        keys[kid] = public_key

    return keys


def _rsa_key_from_jwk(jwk: Any) -> tuple[str, rsa.RSAPublicKey]:
    if not isinstance(jwk, dict):
        raise ValueError("not a JSON object")

    kid = jwk.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH:
        raise ValueError(f"kid must be a string of 1 to {MAX_KID_LENGTH} characters")
    if jwk.get("kty") != "RSA":
        raise ValueError(f"kid {kid!r}: kty is {jwk.get('kty')!r}, expected 'RSA'")
    if jwk.get("alg", "RS256") != "RS256":
        raise ValueError(f"kid {kid!r}: alg is {jwk.get('alg')!r}, expected 'RS256'")
    if jwk.get("use", "sig") != "sig":
        raise ValueError(f"kid {kid!r}: use is {jwk.get('use')!r}, expected 'sig'")
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise ValueError(f"kid {kid!r}: key_ops {key_ops!r} does not include 'verify'")
    if _PRIVATE_KEY_MEMBERS.intersection(jwk):
        raise ValueError(f"kid {kid!r}: the JWKS contains private key material; publish public keys only")

    modulus = _base64url_uint(jwk.get("n"), kid=kid, member="n")
    exponent = _base64url_uint(jwk.get("e"), kid=kid, member="e")
    if modulus.bit_length() < MIN_RSA_KEY_BITS:
        raise ValueError(
            f"kid {kid!r}: modulus has {modulus.bit_length()} bits, expected at least {MIN_RSA_KEY_BITS}"
        )

    # cryptography rejects an even modulus or an exponent out of range with ValueError.
    public_key = rsa.RSAPublicNumbers(e=exponent, n=modulus).public_key()
    return kid, public_key


def _base64url_uint(value: Any, *, kid: str, member: str) -> int:
    if not isinstance(value, str) or _BASE64URL.fullmatch(value) is None:
        raise ValueError(f"kid {kid!r}: member {member!r} must be a base64url string without padding")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"kid {kid!r}: member {member!r} is not valid base64url") from error
    return int.from_bytes(raw, "big")


class JwksCache:
    """In-memory cache of the verification keys from one `JwksSource`.

    Guarantees:

    - Keys load on first use. A known ``kid`` is returned from memory.
    - An unknown ``kid`` triggers at most one re-read per
      ``refresh_cooldown_seconds``, so tokens with random kids cannot turn
      into a flood of SSM reads. The first load does not start that cooldown,
      so a key rotated in soon after a cold start is still picked up.
    - Keys older than ``max_age_seconds`` are re-read on the next lookup, so
      a key removed from the JWKS stops being trusted within that time.
    - A failed re-read keeps the last good keys. With no keys at all,
      `get_key` raises `KeysUnavailable` (fail closed) and retries the source
      at most once per ``failure_retry_seconds``.

    Safe to share between threads. The clock is monotonic seconds.
    """

    def __init__(
        self,
        source: JwksSource,
        refresh_cooldown_seconds: float = 300,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_age_seconds: float = 3600,
        failure_retry_seconds: float = 5,
    ) -> None:
        for name, value in (
            ("refresh_cooldown_seconds", refresh_cooldown_seconds),
            ("max_age_seconds", max_age_seconds),
            ("failure_retry_seconds", failure_retry_seconds),
        ):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, received {value!r}")

        self._source = source
        self._refresh_cooldown = float(refresh_cooldown_seconds)
        self._max_age = float(max_age_seconds)
        self._failure_retry = float(failure_retry_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        # Replaced as a whole on every successful load, so readers need no lock.
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._loaded_at: float | None = None
        self._last_unknown_kid_refresh: float | None = None
        self._next_attempt_at: float = -math.inf

    @property
    def kids(self) -> frozenset[str]:
        """The key ids currently cached."""
        return frozenset(self._keys)

    def get_key(self, kid: str) -> rsa.RSAPublicKey:
        """Return the verification key with this ``kid``.

        Raises `KeysUnavailable` when no keys could be loaded at all, and
        `UnknownKey` when the kid is not in the JWKS even after a permitted re-read.
        """
        keys = self._keys
        key = keys.get(kid)
        if key is not None and not self._is_stale(self._clock()):
            return key

        with self._lock:
            return self._get_key_locked(kid)

    def refresh(self) -> bool:
        """Re-read the source now, ignoring the cooldown; return True on success."""
        with self._lock:
            return self._load(self._clock())

    def _get_key_locked(self, kid: str) -> rsa.RSAPublicKey:
        now = self._clock()
        # A read made by this call already has the newest keys, so an unknown
        # kid does not justify a second one.
        loaded_now = False

        if not self._keys:
            if now >= self._next_attempt_at:
                loaded_now = self._load(now)
            if not self._keys:
                raise KeysUnavailable(
                    "No signing keys are available from the JWKS source; every token is rejected until a read succeeds"
                )
        elif self._is_stale(now) and now >= self._next_attempt_at:
            loaded_now = self._load(now)

        key = self._keys.get(kid)
        if key is None and not loaded_now and self._unknown_kid_refresh_allowed(now):
            self._last_unknown_kid_refresh = now
            self._load(now)
            key = self._keys.get(kid)

        if key is None:
            raise UnknownKey(f"No key in the JWKS has kid {kid[:MAX_KID_LENGTH]!r}")
        return key

    def _is_stale(self, now: float) -> bool:
        return self._loaded_at is not None and now - self._loaded_at >= self._max_age

    def _unknown_kid_refresh_allowed(self, now: float) -> bool:
        last = self._last_unknown_kid_refresh
        return last is None or now - last >= self._refresh_cooldown

    def _load(self, now: float) -> bool:
        try:
            document = self._source.fetch()
            keys = rsa_keys_from_jwks(document)
        except JwksFetchError as error:
            self._next_attempt_at = now + (self._failure_retry if not self._keys else self._refresh_cooldown)
            logger.warning(
                "JWKS read failed; keeping %d cached keys: %s", len(self._keys), error
            )
            return False

        if not keys:
            self._next_attempt_at = now + (self._failure_retry if not self._keys else self._refresh_cooldown)
            logger.warning(
                "The JWKS contains no usable RS256 key; keeping %d cached keys", len(self._keys)
            )
            return False

        self._keys = keys
        self._loaded_at = now
        self._next_attempt_at = now
        logger.info("Loaded %d JWKS keys", len(keys))
        return True
