"""Verification of Amazon Cognito access tokens, the user's identity on every hop.

`TokenVerifier.verify` accepts a token only if all of these hold:

- it is a compact JWS of at most `MAX_TOKEN_CHARS` characters whose header
  names ``alg`` RS256 and a ``kid`` found in the configured JWKS;
- PyJWT verifies the RS256 signature with that key (``algorithms=["RS256"]``);
- ``iss`` equals the configured issuer exactly;
- ``token_use`` is ``access`` (an ID token is rejected);
- ``client_id`` is on the allow-list. Cognito access tokens carry no ``aud``,
  so the audience is not checked;
- ``exp`` is after now, with no leeway. ``iat`` and ``nbf`` (when present)
  may be up to ``leeway_seconds`` in the future, for clock skew;
- ``sub``, ``username`` and ``jti`` are non-empty strings. Client-credentials
  tokens have no ``username``, so an app's own token cannot pass as a user's;
- every required scope is in the space-separated ``scope`` claim.

Time claims are checked by this module against the injected clock rather
than by PyJWT, so that tests can pin the clock and the rules above are stated
in one place.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import jwt

from . import constants
from .errors import (
    AlgorithmNotAllowed,
    BadSignature,
    ClientNotAllowed,
    ConfigurationError,
    InvalidClaim,
    MalformedToken,
    ScopeMissing,
    TokenExpired,
    TokenNotYetValid,
    WrongIssuer,
    WrongTokenUse,
)
from .jwks import MAX_KID_LENGTH, JwksCache, SsmParameterJwksSource, UrlJwksSource

# Tokens longer than this are rejected before any parsing (characters). A
# Cognito access token is about 1 KB, and AgentCore Runtime drops header
# values over 4 KB anyway.
MAX_TOKEN_CHARS: Final = 8 * 1024
# How far ``iat`` and ``nbf`` may lie in the future (seconds), for clock skew
# between Cognito and the verifier.
DEFAULT_LEEWAY_SECONDS: Final = 10
# Verified tokens remembered per verifier. Each entry is a digest and a small dataclass.
DEFAULT_CLAIMS_CACHE_SIZE: Final = 1024
_ALGORITHM: Final = "RS256"
_COMPACT_JWS: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")

# PyJWT verifies the signature and the header. The claims are checked below,
# against the verifier's own clock.
_PYJWT_OPTIONS: Final[dict[str, Any]] = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_iss": False,
    "verify_aud": False,
    "verify_sub": False,
    "verify_jti": False,
    "require": [],
}


@dataclass(frozen=True, slots=True)
class VerifiedClaims:
    """The claims of an access token that passed every check of `TokenVerifier`."""

    sub: str
    username: str
    client_id: str
    scopes: frozenset[str]
    issuer: str
    expires_at: int
    token_use: str
    jti: str


class TokenVerifier:
    """Verifier of Cognito access tokens for one user pool and its allowed app clients.

    Parameters
    ----------
    issuer:
        ``https://cognito-idp.<region>.amazonaws.com/<user pool id>``, compared exactly.
    allowed_client_ids:
        App client ids whose tokens are accepted.
    required_scopes:
        Scopes every token must carry; `verify` can require more per call.
    keys:
        The cache that contains the pool's verification keys.
    leeway_seconds:
        How far in the future ``iat`` and ``nbf`` may lie (clock skew). ``exp``
        gets no leeway, so a token whose ``exp`` equals now is expired.
    claims_cache_size:
        How many verified tokens to remember (LRU). A token seen again is
        served from memory without signature work until its ``exp``. 0 disables it.
        NOTE: a cached token stays accepted until its ``exp`` even if its key
        leaves the JWKS, so revoking a key takes effect on new tokens only.
    clock:
        Seconds since the epoch.
    """

    def __init__(
        self,
        *,
        issuer: str,
        allowed_client_ids: Iterable[str],
        required_scopes: Iterable[str] = (),
        keys: JwksCache,
        leeway_seconds: float = DEFAULT_LEEWAY_SECONDS,
        claims_cache_size: int = DEFAULT_CLAIMS_CACHE_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(issuer, str) or not issuer:
            raise ConfigurationError("issuer must be the user pool's issuer URL, received an empty value")
        client_ids = frozenset(allowed_client_ids)
        if not client_ids or not all(isinstance(value, str) and value for value in client_ids):
            raise ConfigurationError("allowed_client_ids must contain at least one non-empty app client id")
        if not (isinstance(leeway_seconds, (int, float)) and math.isfinite(leeway_seconds) and leeway_seconds >= 0):
            raise ConfigurationError(f"leeway_seconds must be a finite number >= 0, received {leeway_seconds!r}")
        if not isinstance(claims_cache_size, int) or claims_cache_size < 0:
            raise ConfigurationError(f"claims_cache_size must be an integer >= 0, received {claims_cache_size!r}")

        self.issuer = issuer
        self.allowed_client_ids = client_ids
        self.required_scopes = frozenset(required_scopes)
        self.leeway_seconds = float(leeway_seconds)
        self._keys = keys
        self._clock = clock
        self._jwt = jwt.PyJWT()
        self._cache_size = claims_cache_size
        self._cache: OrderedDict[bytes, VerifiedClaims] = OrderedDict()
        self._cache_lock = threading.Lock()

    def verify(self, token: str, *, required_scopes: Iterable[str] | None = None) -> VerifiedClaims:
        """Verify ``token`` and return its claims, or raise a `TokenRejected` subclass.

        ``required_scopes`` are checked in addition to the verifier's own
        required scopes. A token seen before is served from the claims cache,
        but its ``exp`` and the requested scopes are checked again on every call.
        """
        if not isinstance(token, str) or not token:
            raise MalformedToken("The access token is empty")
        if len(token) > MAX_TOKEN_CHARS:
            raise MalformedToken(f"The access token is longer than {MAX_TOKEN_CHARS} characters")
        if not token.isascii():
            raise MalformedToken("The access token contains non-ASCII characters")

        digest = hashlib.sha256(token.encode("ascii")).digest()
        # The read path takes no lock: each OrderedDict operation is atomic
        # under the GIL, and a concurrent eviction only turns a hit into a miss.
        claims = self._cache.get(digest)
        if claims is None:
            claims = self._verify_uncached(token)
            self._remember(digest, claims)
        elif self._clock() >= claims.expires_at:
            self._cache.pop(digest, None)
            raise TokenExpired("The access token has expired")
        else:
            try:
                self._cache.move_to_end(digest)
            except KeyError:
                pass

        self._check_scopes(claims, required_scopes)
        return claims

    def _check_scopes(self, claims: VerifiedClaims, required_scopes: Iterable[str] | None) -> None:
        granted = claims.scopes
        satisfied = self.required_scopes <= granted
        if satisfied and required_scopes is not None:
            for scope in required_scopes:
                if scope not in granted:
                    satisfied = False
                    break

        if not satisfied:
            needed = self.required_scopes.union(required_scopes or ())
            missing = " ".join(sorted(needed - granted))
            raise ScopeMissing(f"The access token lacks the required scope(s): {missing}", sub=claims.sub)

    def _remember(self, digest: bytes, claims: VerifiedClaims) -> None:
        if not self._cache_size:
            return
        with self._cache_lock:
            self._cache[digest] = claims
            self._cache.move_to_end(digest)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _verify_uncached(self, token: str) -> VerifiedClaims:
        if _COMPACT_JWS.fullmatch(token) is None:
            raise MalformedToken("The access token is not a compact JWS of three base64url segments")

        header = _unverified_header(token)
        kid = header.get("kid")
        if header.get("alg") != _ALGORITHM:
            algorithm = str(header.get("alg"))[:32]
            raise AlgorithmNotAllowed(f"The token header names alg {algorithm!r}; only RS256 is accepted")
        if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH:
            raise MalformedToken(f"The token header must carry a kid string of 1 to {MAX_KID_LENGTH} characters")

        key = self._keys.get_key(kid)
        payload = self._decode(token, key)
        return self._validated_claims(payload)

    def _decode(self, token: str, key: Any) -> dict[str, Any]:
        try:
            return self._jwt.decode(token, key=key, algorithms=[_ALGORITHM], options=_PYJWT_OPTIONS)
        except jwt.InvalidAlgorithmError as error:
            raise AlgorithmNotAllowed(f"The token algorithm is not allowed: {error}") from error
        except (jwt.InvalidSignatureError, jwt.InvalidKeyError) as error:
            raise BadSignature("The token signature does not verify with the key named by its kid") from error
        except jwt.PyJWTError as error:
            raise MalformedToken(f"The access token could not be decoded: {error}") from error

    def _validated_claims(self, payload: Mapping[str, Any]) -> VerifiedClaims:
        if payload.get("iss") != self.issuer:
            raise WrongIssuer(f"The token issuer is not the configured user pool {self.issuer}")
        token_use = payload.get("token_use")
        if token_use != "access":
            raise WrongTokenUse(f"token_use is {str(token_use)[:16]!r}; only access tokens are accepted")
        client_id = payload.get("client_id")
        if not isinstance(client_id, str) or client_id not in self.allowed_client_ids:
            raise ClientNotAllowed("The token's client_id is not an allowed app client")

        now = self._clock()
        expires_at = _numeric_claim(payload, "exp", required=True)
        issued_at = _numeric_claim(payload, "iat", required=True)
        not_before = _numeric_claim(payload, "nbf", required=False)
        if now >= expires_at:
            raise TokenExpired("The access token has expired")
        if not_before is not None and not_before > now + self.leeway_seconds:
            raise TokenNotYetValid("The access token's nbf is in the future")
        if issued_at > now + self.leeway_seconds:
            raise TokenNotYetValid("The access token's iat is in the future")

        scope = payload.get("scope", "")
        if not isinstance(scope, str):
            raise InvalidClaim("The scope claim must be a space-separated string")

        return VerifiedClaims(
            sub=_string_claim(payload, "sub"),
            username=_string_claim(payload, "username"),
            client_id=client_id,
            scopes=frozenset(scope.split()),
            issuer=self.issuer,
            expires_at=int(expires_at),
            token_use=token_use,
            jti=_string_claim(payload, "jti"),
        )


def _unverified_header(token: str) -> dict[str, Any]:
    # Parsed only to choose the key and to reject a wrong alg before any key
    # lookup. PyJWT parses and checks the header again while verifying.
    segment = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError, RecursionError) as error:
        raise MalformedToken("The token header is not base64url-encoded JSON") from error
    if not isinstance(header, dict):
        raise MalformedToken("The token header is not a JSON object")
    return header


def _numeric_claim(payload: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    value = payload.get(name)
    if value is None:
        if required:
            raise InvalidClaim(f"The access token has no {name} claim")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not _is_finite(value):
        raise InvalidClaim(f"The {name} claim must be a finite number of seconds since the epoch")
    return value


def _is_finite(value: float) -> bool:
    # JSON integers have no size limit, and math.isfinite raises OverflowError
    # for an int too large for a float, such as 10**400.
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _string_claim(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidClaim(f"The access token's {name} claim must be a non-empty string")
    return value


def verifier_from_env(environ: Mapping[str, str] = os.environ, *, ssm_client: Any | None = None) -> TokenVerifier:
    """Build a `TokenVerifier` from the ``MESH_*`` environment variables.

    Reads the issuer (``MESH_TOKEN_ISSUER``), the allowed app clients
    (``MESH_ALLOWED_CLIENT_IDS``, comma-separated), optional required scopes
    (``MESH_REQUIRED_SCOPES``, space-separated) and the JWKS: the SSM
    parameter ``MESH_JWKS_PARAMETER_NAME`` if set, else ``MESH_JWKS_URL``.
    ``MESH_JWKS_REFRESH_COOLDOWN_SECONDS`` optionally overrides the 300 s cooldown.
    Raises `ConfigurationError` naming the variable and the fix.
    """
    issuer = _required_variable(
        environ, constants.ENV_ISSUER, "the user pool issuer URL, https://cognito-idp.<region>.amazonaws.com/<pool id>"
    )
    _check_issuer(issuer)

    client_ids = [value.strip() for value in environ.get(constants.ENV_ALLOWED_CLIENT_IDS, "").split(",")]
    if not any(client_ids) or not all(client_ids):
        raise ConfigurationError(
            f"{constants.ENV_ALLOWED_CLIENT_IDS} must be a comma-separated list of app client ids "
            f"without empty entries, received {environ.get(constants.ENV_ALLOWED_CLIENT_IDS, '')!r}"
        )

    required_scopes = environ.get(constants.ENV_REQUIRED_SCOPES, "").split()
    cooldown = _cooldown_seconds(environ)

    parameter_name = environ.get(constants.ENV_JWKS_PARAMETER_NAME, "").strip()
    jwks_url = environ.get(constants.ENV_JWKS_URL, "").strip()
    if parameter_name:
        source: SsmParameterJwksSource | UrlJwksSource = SsmParameterJwksSource(parameter_name, ssm_client=ssm_client)
    elif jwks_url:
        try:
            source = UrlJwksSource(jwks_url)
        except ValueError as error:
            raise ConfigurationError(f"{constants.ENV_JWKS_URL} is invalid: {error}") from error
    else:
        raise ConfigurationError(
            f"Neither {constants.ENV_JWKS_PARAMETER_NAME} nor {constants.ENV_JWKS_URL} is set. "
            f"Set {constants.ENV_JWKS_PARAMETER_NAME} to the SSM parameter holding the JWKS snapshot "
            f"(or {constants.ENV_JWKS_URL} for tests and the local mesh)."
        )

    return TokenVerifier(
        issuer=issuer,
        allowed_client_ids=client_ids,
        required_scopes=required_scopes,
        keys=JwksCache(source, refresh_cooldown_seconds=cooldown),
    )


def _required_variable(environ: Mapping[str, str], name: str, meaning: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"Environment variable {name} is missing or empty; set it to {meaning}")
    return value


def _check_issuer(issuer: str) -> None:
    if issuer.endswith("/"):
        raise ConfigurationError(
            f"{constants.ENV_ISSUER} must not end with '/', received {issuer!r}; "
            "Cognito's iss claim has no trailing slash, so no token would match"
        )
    if issuer.startswith("https://"):
        return
    # Plain HTTP is accepted only for an issuer on this machine (tests, local mesh).
    if re.match(r"http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/|$)", issuer):
        return
    raise ConfigurationError(
        f"{constants.ENV_ISSUER} must be an https:// URL (http:// only on loopback), received {issuer!r}"
    )


def _cooldown_seconds(environ: Mapping[str, str]) -> float:
    raw = environ.get(constants.ENV_JWKS_REFRESH_COOLDOWN_SECONDS, "").strip()
    if not raw:
        return 300.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ConfigurationError(
            f"{constants.ENV_JWKS_REFRESH_COOLDOWN_SECONDS} must be a number of seconds >= 0, received {raw!r}"
        )
    return value
