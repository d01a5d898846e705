"""Tests of the JWKS sources and JwksCache: key selection, rotation, cooldown, failure handling."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mesh_identity.errors import JwksFetchError, KeysUnavailable, UnknownKey
from mesh_identity.jwks import JwksCache, SsmParameterJwksSource, UrlJwksSource, rsa_keys_from_jwks
from mesh_identity.tokens import TokenVerifier
from moto import mock_aws

from tests.support.fixtures import FakeClock
from tests.support.oidc import LocalOidcIssuer, SigningKey

COOLDOWN_SECONDS = 300


def _cache(issuer: LocalOidcIssuer, clock: FakeClock, **options) -> JwksCache:
    return JwksCache(UrlJwksSource(issuer.jwks_url), refresh_cooldown_seconds=COOLDOWN_SECONDS, clock=clock, **options)


def _verifier(issuer: LocalOidcIssuer, keys: JwksCache) -> TokenVerifier:
    return TokenVerifier(issuer=issuer.issuer, allowed_client_ids=[issuer.client_id], keys=keys)


def test_jwks_cache_loads_keys_once(oidc_issuer):
    cache = _cache(oidc_issuer, FakeClock(0))

    for _ in range(5):
        cache.get_key(oidc_issuer.current_key.kid)

    assert oidc_issuer.jwks_fetch_count == 1


def test_jwks_cache_unknown_kid_then_rotation_refetches_once(oidc_issuer):
    clock = FakeClock(0)
    verifier = _verifier(oidc_issuer, _cache(oidc_issuer, clock))
    verifier.verify(oidc_issuer.mint_access_token("bob-sub"))
    oidc_issuer.rotate_key()
    clock.advance(10)

    claims = verifier.verify(oidc_issuer.mint_access_token("alice-sub"))

    assert claims.sub == "alice-sub"
    assert oidc_issuer.jwks_fetch_count == 2


def test_jwks_cache_refetch_within_cooldown_does_not_fetch(oidc_issuer):
    clock = FakeClock(0)
    cache = _cache(oidc_issuer, clock)
    cache.get_key(oidc_issuer.current_key.kid)
    with pytest.raises(UnknownKey):
        cache.get_key("random-kid-1")
    clock.advance(COOLDOWN_SECONDS - 1)

    with pytest.raises(UnknownKey):
        cache.get_key("random-kid-2")

    assert oidc_issuer.jwks_fetch_count == 2


def test_jwks_cache_refetch_allowed_after_cooldown(oidc_issuer):
    clock = FakeClock(0)
    cache = _cache(oidc_issuer, clock)
    cache.get_key(oidc_issuer.current_key.kid)
    with pytest.raises(UnknownKey):
        cache.get_key("random-kid-1")
    clock.advance(COOLDOWN_SECONDS)
    new_key = oidc_issuer.rotate_key()

    assert cache.get_key(new_key.kid) is not None
    assert oidc_issuer.jwks_fetch_count == 3


def test_jwks_cache_rotation_within_cooldown_rejected(oidc_issuer):
    clock = FakeClock(0)
    cache = _cache(oidc_issuer, clock)
    cache.get_key(oidc_issuer.current_key.kid)
    with pytest.raises(UnknownKey):
        cache.get_key("random-kid-1")
    new_key = oidc_issuer.rotate_key()

    with pytest.raises(UnknownKey):
        cache.get_key(new_key.kid)


def test_jwks_cache_failed_refetch_keeps_last_good_keys(oidc_issuer):
    clock = FakeClock(0)
    verifier = _verifier(oidc_issuer, _cache(oidc_issuer, clock))
    old_token = oidc_issuer.mint_access_token("bob-sub")
    verifier.verify(oidc_issuer.mint_access_token("warm-up"))
    oidc_issuer.fail_jwks(500)

    with pytest.raises(UnknownKey):
        verifier.verify(oidc_issuer.mint_access_token("alice-sub", kid="kid-from-the-future"))
    claims = verifier.verify(old_token)

    assert claims.sub == "bob-sub"
    assert oidc_issuer.jwks_fetch_count == 2


def test_jwks_cache_no_keys_raises_keys_unavailable(oidc_issuer):
    oidc_issuer.fail_jwks(500)
    cache = _cache(oidc_issuer, FakeClock(0))

    with pytest.raises(KeysUnavailable):
        cache.get_key(oidc_issuer.current_key.kid)


def test_jwks_cache_no_keys_retries_after_failure_interval(oidc_issuer):
    clock = FakeClock(0)
    oidc_issuer.fail_jwks(500)
    cache = _cache(oidc_issuer, clock, failure_retry_seconds=5)
    with pytest.raises(KeysUnavailable):
        cache.get_key(oidc_issuer.current_key.kid)
    oidc_issuer.fail_jwks(None)

    with pytest.raises(KeysUnavailable):
        cache.get_key(oidc_issuer.current_key.kid)
    fetches_within_interval = oidc_issuer.jwks_fetch_count
    clock.advance(5)
    key = cache.get_key(oidc_issuer.current_key.kid)

    assert fetches_within_interval == 1
    assert isinstance(key, rsa.RSAPublicKey)
    assert oidc_issuer.jwks_fetch_count == 2


def test_jwks_cache_empty_key_set_raises_keys_unavailable(oidc_issuer):
    oidc_issuer.remove_key(oidc_issuer.current_key.kid)
    cache = _cache(oidc_issuer, FakeClock(0))

    with pytest.raises(KeysUnavailable):
        cache.get_key(oidc_issuer.current_key.kid)


def test_jwks_cache_stale_keys_reread_after_max_age(oidc_issuer):
    clock = FakeClock(0)
    cache = _cache(oidc_issuer, clock, max_age_seconds=3600)
    retired = oidc_issuer.current_key
    cache.get_key(retired.kid)
    oidc_issuer.rotate_key(retire_previous=True)
    clock.advance(3600)

    with pytest.raises(UnknownKey):
        cache.get_key(retired.kid)
    assert oidc_issuer.jwks_fetch_count == 2


def test_jwks_cache_stale_keys_kept_when_reread_fails(oidc_issuer):
    clock = FakeClock(0)
    cache = _cache(oidc_issuer, clock, max_age_seconds=3600)
    cache.get_key(oidc_issuer.current_key.kid)
    oidc_issuer.fail_jwks(500)
    clock.advance(3600)

    key = cache.get_key(oidc_issuer.current_key.kid)

    assert isinstance(key, rsa.RSAPublicKey)


def test_jwks_cache_refresh_ignores_cooldown(oidc_issuer):
    cache = _cache(oidc_issuer, FakeClock(0))
    cache.get_key(oidc_issuer.current_key.kid)
    new_key = oidc_issuer.rotate_key()

    refreshed = cache.refresh()

    assert refreshed is True
    assert new_key.kid in cache.kids


@pytest.mark.parametrize("option", ["refresh_cooldown_seconds", "max_age_seconds", "failure_retry_seconds"])
def test_jwks_cache_negative_interval_rejected(option, oidc_issuer):
    with pytest.raises(ValueError):
        JwksCache(UrlJwksSource(oidc_issuer.jwks_url), **{option: -1})


def _good_jwk() -> dict:
    return LocalOidcIssuer().current_key.jwk()


def _short_key_jwk() -> dict:
    short = SigningKey(kid="short", private_key=rsa.generate_private_key(public_exponent=65537, key_size=1024))
    return short.jwk()


# Each case is a JWK that must not become a verification key.
UNUSABLE_JWKS: dict[str, dict] = {
    "elliptic_curve": {**_good_jwk(), "kty": "EC"},
    "octet_sequence": {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
    "alg_rs512": {**_good_jwk(), "alg": "RS512"},
    "alg_hs256": {**_good_jwk(), "alg": "HS256"},
    "use_enc": {**_good_jwk(), "use": "enc"},
    "key_ops_without_verify": {**_good_jwk(), "key_ops": ["encrypt"]},
    "private_key_member": {**_good_jwk(), "d": "AQAB"},
    "modulus_of_1024_bits": _short_key_jwk(),
    "kid_missing": {name: value for name, value in _good_jwk().items() if name != "kid"},
    "kid_empty": {**_good_jwk(), "kid": ""},
    "kid_not_string": {**_good_jwk(), "kid": 5},
    "modulus_not_base64url": {**_good_jwk(), "n": "not base64!"},
    "modulus_padded": {**_good_jwk(), "n": _good_jwk()["n"] + "="},
    "exponent_missing": {name: value for name, value in _good_jwk().items() if name != "e"},
    "even_exponent": {**_good_jwk(), "e": "Ag"},
    "not_an_object": "RSA",  # type: ignore[dict-item]
}


@pytest.mark.parametrize("case", UNUSABLE_JWKS, ids=list(UNUSABLE_JWKS))
def test_rsa_keys_from_jwks_skips_unusable_key(case):
    good = _good_jwk()
    good["kid"] = "good-key"

    keys = rsa_keys_from_jwks({"keys": [UNUSABLE_JWKS[case], good]})

    assert set(keys) == {"good-key"}


def test_rsa_keys_from_jwks_drops_duplicate_kid():
    first, second = LocalOidcIssuer(fresh_keys=False).current_key.jwk(), _good_jwk()
    second["kid"] = first["kid"]

    keys = rsa_keys_from_jwks({"keys": [first, second]})

    assert keys == {}


def test_rsa_keys_from_jwks_minimal_key_accepted():
    jwk = {name: value for name, value in _good_jwk().items() if name in {"kty", "kid", "n", "e"}}

    keys = rsa_keys_from_jwks({"keys": [jwk]})

    assert list(keys) == [jwk["kid"]]


def test_url_jwks_source_rejects_non_http_url():
    with pytest.raises(ValueError):
        UrlJwksSource("file:///etc/passwd")


def test_url_jwks_source_http_error_rejected(oidc_issuer):
    oidc_issuer.fail_jwks(404)

    with pytest.raises(JwksFetchError):
        UrlJwksSource(oidc_issuer.jwks_url).fetch()


def test_url_jwks_source_unreachable_rejected(oidc_issuer):
    url = oidc_issuer.jwks_url
    oidc_issuer.stop()

    with pytest.raises(JwksFetchError):
        UrlJwksSource(url, timeout_seconds=1).fetch()


def test_url_jwks_source_non_jwks_rejected(oidc_issuer):
    with pytest.raises(JwksFetchError):
        UrlJwksSource(oidc_issuer.discovery_url).fetch()


@pytest.fixture
def ssm_client():
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def test_ssm_jwks_source_reads_parameter(ssm_client, oidc_issuer):
    ssm_client.put_parameter(Name="/mesh/jwks", Value=json.dumps(oidc_issuer.jwks()), Type="String")

    document = SsmParameterJwksSource("/mesh/jwks", ssm_client=ssm_client).fetch()

    assert document == oidc_issuer.jwks()


def test_ssm_jwks_source_missing_parameter_rejected(ssm_client):
    with pytest.raises(JwksFetchError) as raised:
        SsmParameterJwksSource("/mesh/absent", ssm_client=ssm_client).fetch()

    assert "/mesh/absent" in str(raised.value)


def test_ssm_jwks_source_invalid_json_rejected(ssm_client):
    ssm_client.put_parameter(Name="/mesh/jwks", Value="{not json", Type="String")

    with pytest.raises(JwksFetchError):
        SsmParameterJwksSource("/mesh/jwks", ssm_client=ssm_client).fetch()


def test_ssm_jwks_source_verifies_token(ssm_client, oidc_issuer):
    ssm_client.put_parameter(Name="/mesh/jwks", Value=json.dumps(oidc_issuer.jwks()), Type="String")
    keys = JwksCache(SsmParameterJwksSource("/mesh/jwks", ssm_client=ssm_client))
    verifier = _verifier(oidc_issuer, keys)

    claims = verifier.verify(oidc_issuer.mint_access_token("bob-sub"))

    assert claims.sub == "bob-sub"
    assert oidc_issuer.jwks_fetch_count == 0


def test_jwks_cache_concurrent_lookups_fetch_once(oidc_issuer):
    import threading

    cache = _cache(oidc_issuer, FakeClock(time.monotonic()))
    errors: list[BaseException] = []

    def look_up() -> None:
        try:
            cache.get_key(oidc_issuer.current_key.kid)
        except BaseException as error:  # noqa: BLE001 - collected for the assert
            errors.append(error)

    threads = [threading.Thread(target=look_up) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert oidc_issuer.jwks_fetch_count == 1


def test_jwks_cache_unknown_first_kid_fetches_once(oidc_issuer):
    cache = _cache(oidc_issuer, FakeClock(0))

    with pytest.raises(UnknownKey):
        cache.get_key("random-kid")

    assert oidc_issuer.jwks_fetch_count == 1
