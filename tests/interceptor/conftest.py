"""Fixtures of the interceptor tests: the local issuer and the verifier environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from interceptor import handler
from tests.support.fixtures import (  # noqa: F401 - imported so pytest finds the fixtures
    captured_logger,
    jwks_cache,
    lambda_context,
    mesh_verifier_env,
    oidc_issuer,
    token_verifier,
)


@pytest.fixture(autouse=True)
def fresh_handler_verifier(mesh_verifier_env) -> Iterator[None]:
    """Build the handler's verifier from this test's environment, and forget it afterwards."""
    handler.get_verifier.cache_clear()
    yield
    handler.get_verifier.cache_clear()
