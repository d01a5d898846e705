"""Typed errors of the mesh identity library, one class per cause of rejection.

Every class has a ``reason``: a short snake_case code that audit records carry,
so a dashboard can count rejections by cause. Messages name the cause and the
setting or claim involved. They never contain a token: the base class replaces
anything that looks like a JWT or a SigV4 value before the message is stored.
"""

from __future__ import annotations

from typing import ClassVar

from ._redact import redact_secrets


class MeshIdentityError(Exception):
    """Base class of every error this library raises."""

    reason: ClassVar[str] = "mesh_identity_error"

    def __init__(self, message: str) -> None:
        super().__init__(redact_secrets(message))


class ConfigurationError(MeshIdentityError, ValueError):
    """An environment variable or constructor argument is missing or invalid."""

    reason = "configuration_invalid"


class JwksFetchError(MeshIdentityError):
    """A JWKS source could not return a usable key set (read failed or invalid JSON)."""

    reason = "jwks_fetch_failed"


class TokenRejected(MeshIdentityError):
    """The access token failed verification. Subclasses name the cause."""

    reason = "token_rejected"


class MalformedToken(TokenRejected):
    """The token is not a well-formed compact JWS (segments, base64url, JSON, size)."""

    reason = "token_malformed"


class InvalidClaim(MalformedToken):
    """A claim the mesh relies on is missing or has the wrong type."""

    reason = "token_invalid_claim"


class BadSignature(TokenRejected):
    """The signature does not verify with the key selected by ``kid``."""

    reason = "token_bad_signature"


class AlgorithmNotAllowed(BadSignature):
    """The header names an algorithm other than RS256 (for example ``none`` or HS256)."""

    reason = "token_algorithm_not_allowed"


class UnknownKey(BadSignature):
    """No key in the JWKS has the token's ``kid``, even after a permitted re-read."""

    reason = "token_unknown_key"


class TokenExpired(TokenRejected):
    """The ``exp`` claim is at or before the current time."""

    reason = "token_expired"


class TokenNotYetValid(TokenRejected):
    """``nbf`` or ``iat`` lies further in the future than the leeway admits."""

    reason = "token_not_yet_valid"


class WrongIssuer(TokenRejected):
    """The ``iss`` claim differs from the configured user pool issuer."""

    reason = "token_wrong_issuer"


class WrongTokenUse(TokenRejected):
    """The ``token_use`` claim is not ``access`` (for example an ID token)."""

    reason = "token_wrong_use"


class ClientNotAllowed(TokenRejected):
    """The ``client_id`` claim is not on the allow-list of app clients."""

    reason = "token_client_not_allowed"


class ScopeMissing(TokenRejected):
    """The ``scope`` claim lacks a scope that the operation requires.

    The token itself verified, so ``sub`` names its user for the audit record.
    """

    reason = "token_scope_missing"

    def __init__(self, message: str, *, sub: str | None = None) -> None:
        super().__init__(message)
        self.sub = sub


class KeysUnavailable(TokenRejected):
    """No signing keys could be loaded, so no token can be verified (fail closed)."""

    reason = "keys_unavailable"


class InvalidArguments(MeshIdentityError, ValueError):
    """Tool arguments nest too deeply or have a name with a non-ASCII character.

    ``reason`` is ``arguments_too_deep`` or ``argument_key_not_ascii``.
    """

    reason = "arguments_invalid"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        # An instance carries a more precise code than its class.
        self.reason = reason  # type: ignore[misc]


class MissingHeader(MeshIdentityError):
    """A required request header is absent or empty."""

    reason = "header_missing"


class DuplicateHeader(MeshIdentityError):
    """A header that must appear once appears more than once (names compared case-insensitively)."""

    reason = "header_duplicate"


class InvalidHeader(MeshIdentityError):
    """A header is present but its value has the wrong form (scheme, length, characters)."""

    reason = "header_invalid"
