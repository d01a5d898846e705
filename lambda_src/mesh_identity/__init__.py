"""The mesh's identity library: tokens, keys, headers, SigV4 signing, tool arguments, logs and audit records.

Every hop imports these names from here, so each trust decision is made by
the same code.

NOTE: ``mesh_identity.audit`` is the `audit` function, which shadows the
submodule of the same name. ``from mesh_identity.audit import audit`` still
works, and ``importlib.import_module("mesh_identity.audit")`` returns the module.
"""

from ._redact import contains_secret, redact_secrets
from .arguments import (
    IDENTITY_KEYS,
    contains_reserved_key,
    is_identity_key,
    normalize_key,
    strip_identity_arguments,
)
from .audit import audit, mask_account_ids
from .errors import (
    AlgorithmNotAllowed,
    BadSignature,
    ClientNotAllowed,
    ConfigurationError,
    DuplicateHeader,
    InvalidArguments,
    InvalidClaim,
    InvalidHeader,
    JwksFetchError,
    KeysUnavailable,
    MalformedToken,
    MeshIdentityError,
    MissingHeader,
    ScopeMissing,
    TokenExpired,
    TokenNotYetValid,
    TokenRejected,
    UnknownKey,
    WrongIssuer,
    WrongTokenUse,
)
from .headers import (
    bearer_token,
    find_single_header,
    session_id_from_headers,
    user_token_from_headers,
    validate_session_id,
    validate_user_token,
)
from .jwks import JwksCache, JwksSource, SsmParameterJwksSource, UrlJwksSource
from .logger import AccountIdMaskingFormatter, create_logger
from .signing import add_identity_headers, identity_headers, sign_request, signed_header_names
from .tokens import TokenVerifier, VerifiedClaims, verifier_from_env

__all__ = [
    "IDENTITY_KEYS",
    "AccountIdMaskingFormatter",
    "AlgorithmNotAllowed",
    "BadSignature",
    "ClientNotAllowed",
    "ConfigurationError",
    "DuplicateHeader",
    "InvalidArguments",
    "InvalidClaim",
    "InvalidHeader",
    "JwksCache",
    "JwksFetchError",
    "JwksSource",
    "KeysUnavailable",
    "MalformedToken",
    "MeshIdentityError",
    "MissingHeader",
    "ScopeMissing",
    "SsmParameterJwksSource",
    "TokenExpired",
    "TokenNotYetValid",
    "TokenRejected",
    "TokenVerifier",
    "UnknownKey",
    "UrlJwksSource",
    "VerifiedClaims",
    "WrongIssuer",
    "WrongTokenUse",
    "add_identity_headers",
    "audit",
    "bearer_token",
    "contains_reserved_key",
    "contains_secret",
    "create_logger",
    "find_single_header",
    "identity_headers",
    "is_identity_key",
    "mask_account_ids",
    "normalize_key",
    "redact_secrets",
    "session_id_from_headers",
    "sign_request",
    "signed_header_names",
    "strip_identity_arguments",
    "user_token_from_headers",
    "validate_session_id",
    "validate_user_token",
    "verifier_from_env",
]
