"""A local OpenID Connect issuer shaped like an Amazon Cognito user pool, for the local mesh and tests.

`LocalOidcIssuer` generates RSA-2048 signing keys, serves the discovery
document and the JWKS on 127.0.0.1 (a free port, stdlib ``http.server`` in a
thread) and mints tokens with Cognito's access-token claim set. It can
rotate keys, count JWKS fetches and make the JWKS endpoint fail, and it can
mint hostile tokens (``alg`` none, HS256 keyed with the public key, extra
``jku``/``jwk``/``x5u`` headers) for negative tests.

Use it as a context manager so the server always stops::

    with LocalOidcIssuer() as issuer:
        token = issuer.mint_access_token("alice-sub", scopes=[SCOPE_ACCOUNTS_READ])
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .http import LOOPBACK, LoopbackServer, Reply
from .sigv4 import ReceivedRequest

DEFAULT_POOL_ID: Final = "us-east-1_LocalPool1"
DEFAULT_CLIENT_ID: Final = "localmeshclient0000000000a"
DEFAULT_TOKEN_LIFETIME_SECONDS: Final = 3600
_OMIT: Final = object()

# RSA key generation takes tens of milliseconds, so generated keys are shared
# by every issuer in the process. Each issuer still gives them its own kids.
_key_pool: list[rsa.RSAPrivateKey] = []
_key_pool_lock = threading.Lock()


def _pooled_key(index: int) -> rsa.RSAPrivateKey:
    with _key_pool_lock:
        while len(_key_pool) <= index:
            _key_pool.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return _key_pool[index]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_uint(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    """One RSA key pair of the issuer and the kid it is published under."""

    kid: str
    private_key: rsa.RSAPrivateKey

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        """The public half, as published in the JWKS."""
        return self.private_key.public_key()

    def public_pem(self) -> bytes:
        """The public key in PEM (SubjectPublicKeyInfo) form."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwk(self) -> dict[str, str]:
        """The public key as Cognito publishes it in its JWKS."""
        numbers = self.public_key.public_numbers()
        return {
            "alg": "RS256",
            "e": _b64url_uint(numbers.e),
            "kid": self.kid,
            "kty": "RSA",
            "n": _b64url_uint(numbers.n),
            "use": "sig",
        }


class LocalOidcIssuer:
    """A Cognito-shaped OIDC issuer on loopback. Start it with ``with``.

    Parameters
    ----------
    pool_id:
        The user pool id; the issuer URL is ``http://127.0.0.1:<port>/<pool_id>``.
    client_id:
        The app client id minted into tokens unless a call overrides it.
    fresh_keys:
        Generate new keys instead of taking them from the process-wide pool,
        for a test that needs key material no other issuer uses.
    """

    def __init__(
        self,
        *,
        pool_id: str = DEFAULT_POOL_ID,
        client_id: str = DEFAULT_CLIENT_ID,
        fresh_keys: bool = False,
    ) -> None:
        self.pool_id = pool_id
        self.client_id = client_id
        self._fresh_keys = fresh_keys
        self._next_pool_index = 0
        self._lock = threading.Lock()
        self._published: dict[str, SigningKey] = {}
        self._current: SigningKey = self.add_key()
        self._jwks_fetches = 0
        self._jwks_failure_status: int | None = None
        self._server = LoopbackServer("local-oidc-issuer", self._handle_request)

    # -- server lifecycle -------------------------------------------------

    def __enter__(self) -> LocalOidcIssuer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start serving on 127.0.0.1 on a free port."""
        self._server.start()

    def stop(self) -> None:
        """Stop the server and release its port. Safe to call twice."""
        self._server.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``; the server must be running."""
        if not self._server.is_running:
            raise RuntimeError("The issuer is not running; use it as a context manager or call start()")
        return self._server.base_url

    @property
    def issuer(self) -> str:
        """The ``iss`` value, shaped like Cognito's ``https://cognito-idp.<region>.amazonaws.com/<pool id>``."""
        return f"{self.base_url}/{self.pool_id}"

    @property
    def jwks_url(self) -> str:
        """URL of the JWKS, under the issuer as with Cognito."""
        return f"{self.issuer}/.well-known/jwks.json"

    @property
    def discovery_url(self) -> str:
        """URL of the OpenID Connect discovery document."""
        return f"{self.issuer}/.well-known/openid-configuration"

    # -- keys ---------------------------------------------------------------

    @property
    def current_key(self) -> SigningKey:
        """The key that signs new tokens."""
        return self._current

    @property
    def jwks_fetch_count(self) -> int:
        """How many JWKS requests the server has served (failed ones included)."""
        with self._lock:
            return self._jwks_fetches

    def add_key(self) -> SigningKey:
        """Generate (or take from the pool) a key, publish it, and return it. Signing keeps the current key."""
        if self._fresh_keys:
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            private_key = _pooled_key(self._next_pool_index)
            self._next_pool_index += 1
        key = SigningKey(kid=_b64url(secrets.token_bytes(32)), private_key=private_key)
        with self._lock:
            self._published[key.kid] = key
        return key

    def rotate_key(self, *, retire_previous: bool = False) -> SigningKey:
        """Publish a new key and sign new tokens with it, as Cognito does on rotation.

        With ``retire_previous``, the old key leaves the JWKS at once.
        """
        previous = self._current
        self._current = self.add_key()
        if retire_previous:
            self.remove_key(previous.kid)
        return self._current

    def remove_key(self, kid: str) -> None:
        """Stop publishing the key with this kid."""
        with self._lock:
            self._published.pop(kid, None)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWKS document as served."""
        with self._lock:
            return {"keys": [key.jwk() for key in self._published.values()]}

    def fail_jwks(self, status: int | None = 500) -> None:
        """Make the JWKS endpoint respond with ``status`` (None restores normal service)."""
        with self._lock:
            self._jwks_failure_status = status

    # -- tokens -------------------------------------------------------------

    def access_token_claims(
        self,
        sub: str,
        *,
        username: str | None = None,
        client_id: str | None = None,
        scopes: Iterable[str] = (),
        token_use: str = "access",
        now: float | None = None,
        lifetime_seconds: int = DEFAULT_TOKEN_LIFETIME_SECONDS,
    ) -> dict[str, Any]:
        """Return the claim set of a Cognito access token for ``sub``."""
        issued_at = int(time.time() if now is None else now)
        return {
            "sub": sub,
            "client_id": client_id or self.client_id,
            "scope": " ".join(scopes),
            "token_use": token_use,
            "iss": self.issuer,
            "exp": issued_at + lifetime_seconds,
            "iat": issued_at,
            "auth_time": issued_at,
            "jti": str(uuid.uuid4()),
            "username": username if username is not None else sub,
            "origin_jti": str(uuid.uuid4()),
            "event_id": str(uuid.uuid4()),
            "version": 2,
        }

    def mint_access_token(
        self,
        sub: str,
        *,
        username: str | None = None,
        client_id: str | None = None,
        scopes: Iterable[str] = (),
        token_use: str = "access",
        exp: Any = _OMIT,
        iat: Any = _OMIT,
        nbf: Any = _OMIT,
        issuer: Any = _OMIT,
        kid: str | None = None,
        key: SigningKey | None = None,
        headers: Mapping[str, Any] | None = None,
        alg: str = "RS256",
        extra_claims: Mapping[str, Any] | None = None,
        omit_claims: Iterable[str] = (),
        now: float | None = None,
    ) -> str:
        """Return a signed access token with Cognito's claim set.

        ``exp``, ``iat``, ``nbf`` and ``issuer`` override the claim (None
        removes it). ``key`` signs (default: the current key) and ``kid``
        overrides the kid in the header. ``headers`` adds or replaces header
        members. ``alg`` may be ``"RS256"``, ``"none"`` (no signature) or
        ``"HS256"`` (HMAC keyed with the signing key's public PEM, the
        classic algorithm-confusion attack).
        """
        claims = self.access_token_claims(
            sub, username=username, client_id=client_id, scopes=scopes, token_use=token_use, now=now
        )
        for name, value in (("exp", exp), ("iat", iat), ("nbf", nbf), ("iss", issuer)):
            if value is not _OMIT:
                claims[name] = value
        claims.update(extra_claims or {})
        for name in omit_claims:
            claims.pop(name, None)
        claims = {name: value for name, value in claims.items() if value is not None}
        return self.sign(claims, kid=kid, key=key, headers=headers, alg=alg)

    def mint_id_token(self, sub: str, *, client_id: str | None = None, key: SigningKey | None = None) -> str:
        """Return a Cognito-shaped ID token: ``aud`` instead of ``client_id``, ``token_use`` id."""
        issued_at = int(time.time())
        claims = {
            "sub": sub,
            "aud": client_id or self.client_id,
            "email_verified": True,
            "token_use": "id",
            "auth_time": issued_at,
            "iss": self.issuer,
            "cognito:username": sub,
            "exp": issued_at + DEFAULT_TOKEN_LIFETIME_SECONDS,
            "iat": issued_at,
            "jti": str(uuid.uuid4()),
            "origin_jti": str(uuid.uuid4()),
            "event_id": str(uuid.uuid4()),
            "email": f"{sub}@example.com",
        }
        return self.sign(claims, key=key)

    def sign(
        self,
        claims: Mapping[str, Any],
        *,
        kid: str | None = None,
        key: SigningKey | None = None,
        headers: Mapping[str, Any] | None = None,
        alg: str = "RS256",
    ) -> str:
        """Return a compact JWS of ``claims`` signed as described in `mint_access_token`."""
        signing_key = key or self._current
        header: dict[str, Any] = {"kid": kid if kid is not None else signing_key.kid, "alg": alg}
        header.update(headers or {})

        # Built by hand rather than with PyJWT so that the header is exactly
        # what the test requests (Cognito sends no "typ"), hostile members included.
        signing_input = f"{_b64url(_json(header))}.{_b64url(_json(claims))}"
        if alg == "RS256":
            signature = signing_key.private_key.sign(
                signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
            )
            return f"{signing_input}.{_b64url(signature)}"
        if alg == "none":
            return f"{signing_input}."
        if alg == "HS256":
            mac = hmac.new(signing_key.public_pem(), signing_input.encode("ascii"), hashlib.sha256).digest()
            return f"{signing_input}.{_b64url(mac)}"
        raise ValueError(f"alg must be RS256, none or HS256, received {alg!r}")

    # -- HTTP ---------------------------------------------------------------

    def _discovery_document(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": self.jwks_url,
            "authorization_endpoint": f"{self.base_url}/oauth2/authorize",
            "token_endpoint": f"{self.base_url}/oauth2/token",
            "response_types_supported": ["code", "token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "phone", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }

    def _count_jwks_fetch(self) -> int | None:
        with self._lock:
            self._jwks_fetches += 1
            return self._jwks_failure_status

    def _handle_request(self, request: ReceivedRequest) -> Reply:
        unsupported = _unsupported_method(request)
        if unsupported is not None:
            return unsupported

        path = request.target.split("?", 1)[0]
        prefix = f"/{self.pool_id}"
        if path.startswith(prefix):
            path = path[len(prefix):]

        if path == "/.well-known/openid-configuration":
            return Reply.json(HTTPStatus.OK, self._discovery_document())
        if path == "/.well-known/jwks.json":
            failure_status = self._count_jwks_fetch()
            if failure_status is not None:
                return Reply.json(HTTPStatus(failure_status), {"message": "JWKS unavailable"})
            return Reply.json(HTTPStatus.OK, self.jwks())
        return Reply.json(HTTPStatus.NOT_FOUND, {"message": "not found"})


def _json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _unsupported_method(request: ReceivedRequest) -> Reply | None:
    """Return None for GET, else the 501 reply that http.server sends for a method the server does not serve."""
    if request.method == "GET":
        return None
    return Reply.json(HTTPStatus.NOT_IMPLEMENTED, {"message": f"Unsupported method ({request.method!r})"})


class RequestCounter:
    """A loopback server that responds 404 to every request and counts them.

    Tests point a token's ``jku`` or ``x5u`` header at it to prove the
    verifier never fetches keys from a URL the token names.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = 0
        self._server = LoopbackServer("request-counter", self._handle_request)

    def __enter__(self) -> RequestCounter:
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop()

    @property
    def url(self) -> str:
        """A URL on this server."""
        if not self._server.is_running:
            raise RuntimeError("The counter is not running; use it as a context manager")
        return f"{self._server.base_url}/keys.json"

    @property
    def requests(self) -> int:
        """How many requests the server has received."""
        with self._lock:
            return self._requests

    def _handle_request(self, request: ReceivedRequest) -> Reply:
        unsupported = _unsupported_method(request)
        if unsupported is not None:
            return unsupported

        with self._lock:
            self._requests += 1
        return Reply(HTTPStatus.NOT_FOUND)
