"""The local Cognito-shaped issuer, for tests.

It lives in `localmesh.oidc`, because the local mesh runs it too; this module
keeps the tests' import path.
"""

from localmesh.oidc import (
    DEFAULT_CLIENT_ID,
    DEFAULT_POOL_ID,
    DEFAULT_TOKEN_LIFETIME_SECONDS,
    LOOPBACK,
    LocalOidcIssuer,
    RequestCounter,
    SigningKey,
)

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_POOL_ID",
    "DEFAULT_TOKEN_LIFETIME_SECONDS",
    "LOOPBACK",
    "LocalOidcIssuer",
    "RequestCounter",
    "SigningKey",
]
