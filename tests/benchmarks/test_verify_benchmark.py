"""Benchmarks of token verification against a raw RSA verify (pytest-benchmark, not timed tests).

Skipped by default (``--benchmark-skip`` in pyproject). Run with::

    pytest tests/benchmarks --benchmark-only -p no:randomly

``benchmarks/verify_ratio.py`` prints the same measurements as ratios.
"""

from __future__ import annotations

import base64
import itertools

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from mesh_identity.constants import SCOPE_ACCOUNTS_READ
from mesh_identity.jwks import JwksCache, UrlJwksSource
from mesh_identity.tokens import TokenVerifier

# Distinct tokens minted for the first-sight benchmark; each round uses a new one.
FIRST_SIGHT_TOKENS = 3000


@pytest.fixture
def warm_keys(oidc_issuer) -> JwksCache:
    keys = JwksCache(UrlJwksSource(oidc_issuer.jwks_url))
    keys.refresh()
    return keys


def _verifier(oidc_issuer, keys: JwksCache) -> TokenVerifier:
    return TokenVerifier(issuer=oidc_issuer.issuer, allowed_client_ids=[oidc_issuer.client_id], keys=keys)


def test_raw_rsa_verify_benchmark(benchmark, oidc_issuer):
    token = oidc_issuer.mint_access_token("bob-sub")
    signing_input, _, segment = token.rpartition(".")
    signature = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    public_key = oidc_issuer.current_key.public_key

    benchmark(public_key.verify, signature, signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())


def test_pyjwt_decode_benchmark(benchmark, oidc_issuer):
    token = oidc_issuer.mint_access_token("bob-sub")
    options = {"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_iss": False}

    claims = benchmark(jwt.decode, token, oidc_issuer.current_key.public_key, algorithms=["RS256"], options=options)

    assert claims["sub"] == "bob-sub"


def test_first_sight_verify_benchmark(benchmark, oidc_issuer, warm_keys):
    tokens = iter([oidc_issuer.mint_access_token(f"user-{index}", scopes=[SCOPE_ACCOUNTS_READ]) for index in range(FIRST_SIGHT_TOKENS)])
    verifier = _verifier(oidc_issuer, warm_keys)

    def setup():
        return (next(tokens),), {"required_scopes": [SCOPE_ACCOUNTS_READ]}

    benchmark.pedantic(verifier.verify, setup=setup, rounds=FIRST_SIGHT_TOKENS - 10, warmup_rounds=5)


def test_cached_verify_benchmark(benchmark, oidc_issuer, warm_keys):
    token = oidc_issuer.mint_access_token("bob-sub", scopes=[SCOPE_ACCOUNTS_READ])
    verifier = _verifier(oidc_issuer, warm_keys)
    verifier.verify(token)

    claims = benchmark(verifier.verify, token, required_scopes=[SCOPE_ACCOUNTS_READ])

    assert claims.sub == "bob-sub"


def test_rotation_fetch_count_benchmark(benchmark, oidc_issuer):
    def verify_across_rotation() -> int:
        fetches_before = oidc_issuer.jwks_fetch_count
        verifier = _verifier(oidc_issuer, JwksCache(UrlJwksSource(oidc_issuer.jwks_url)))
        before = [oidc_issuer.mint_access_token(f"user-{index}") for index in range(50)]
        for token in itertools.islice(itertools.cycle(before), 5000):
            verifier.verify(token)
        oidc_issuer.rotate_key()
        after = [oidc_issuer.mint_access_token(f"user-{index}") for index in range(50)]
        for token in itertools.islice(itertools.cycle(after), 5000):
            verifier.verify(token)
        return oidc_issuer.jwks_fetch_count - fetches_before

    fetches = benchmark.pedantic(verify_across_rotation, rounds=1, iterations=1)

    assert fetches <= 2
