"""Fixtures of the identity library tests: the local issuer, verifiers, captured logs."""

from tests.support.fixtures import (  # noqa: F401 - imported so pytest finds the fixtures
    captured_logger,
    jwks_cache,
    mesh_verifier_env,
    oidc_issuer,
    token_verifier,
)
