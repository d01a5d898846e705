"""Tests of TokenVerifier with real RSA keys and real JWTs from the local issuer."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import jwt
import pytest
from mesh_identity import constants
from mesh_identity.errors import (
    AlgorithmNotAllowed,
    BadSignature,
    ClientNotAllowed,
    InvalidClaim,
    KeysUnavailable,
    MalformedToken,
    ScopeMissing,
    TokenExpired,
    TokenNotYetValid,
    TokenRejected,
    UnknownKey,
    WrongIssuer,
    WrongTokenUse,
)
from mesh_identity.jwks import JwksCache, UrlJwksSource
from mesh_identity.tokens import DEFAULT_LEEWAY_SECONDS, MAX_TOKEN_CHARS, TokenVerifier, VerifiedClaims

from tests.support.fixtures import FakeClock
from tests.support.oidc import LocalOidcIssuer, RequestCounter

READ = constants.SCOPE_ACCOUNTS_READ
TRANSACTIONS = constants.SCOPE_TRANSACTIONS_READ


def _verifier(issuer: LocalOidcIssuer, clock: Callable[[], float] = time.time, **options) -> TokenVerifier:
    return TokenVerifier(
        issuer=issuer.issuer,
        allowed_client_ids=[issuer.client_id],
        keys=JwksCache(UrlJwksSource(issuer.jwks_url)),
        clock=clock,
        **options,
    )


def _b64url_json(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def test_verify_valid_access_token_returns_claims(oidc_issuer, token_verifier):
    token = oidc_issuer.mint_access_token("bob-sub", username="bob", scopes=[READ, TRANSACTIONS])

    claims = token_verifier.verify(token)

    assert claims.sub == "bob-sub"
    assert claims.username == "bob"
    assert claims.client_id == oidc_issuer.client_id
    assert claims.scopes == frozenset({READ, TRANSACTIONS})
    assert claims.issuer == oidc_issuer.issuer
    assert claims.token_use == "access"
    assert isinstance(claims.jti, str)
    assert claims.expires_at > time.time()


def test_verify_claims_are_frozen(oidc_issuer, token_verifier):
    claims = token_verifier.verify(oidc_issuer.mint_access_token("bob-sub"))

    with pytest.raises(AttributeError):
        claims.sub = "alice-sub"  # type: ignore[misc]


# Each case builds a hostile token from the issuer and names the error the verifier must raise.
HOSTILE_TOKENS: dict[str, tuple[Callable[[LocalOidcIssuer], str], type[TokenRejected]]] = {
    "alg_none": (lambda issuer: issuer.mint_access_token("mallory", alg="none"), AlgorithmNotAllowed),
    "hs256_keyed_with_public_pem": (lambda issuer: issuer.mint_access_token("mallory", alg="HS256"), AlgorithmNotAllowed),
    "rs512_header_on_rs256_signature": (
        lambda issuer: issuer.mint_access_token("mallory", headers={"alg": "RS512"}),
        AlgorithmNotAllowed,
    ),
    "alg_missing": (lambda issuer: issuer.mint_access_token("mallory", headers={"alg": None}), AlgorithmNotAllowed),
    "id_token": (lambda issuer: issuer.mint_id_token("bob-sub"), WrongTokenUse),
    "token_use_id_with_access_claims": (lambda issuer: issuer.mint_access_token("bob-sub", token_use="id"), WrongTokenUse),
    "client_not_allowed": (lambda issuer: issuer.mint_access_token("bob-sub", client_id="otherclient0000000000000"), ClientNotAllowed),
    "client_id_missing": (lambda issuer: issuer.mint_access_token("bob-sub", omit_claims=["client_id"]), ClientNotAllowed),
    "another_pools_issuer": (
        lambda issuer: issuer.mint_access_token(
            "bob-sub", issuer="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OtherPool"
        ),
        WrongIssuer,
    ),
    "issuer_with_suffix": (lambda issuer: issuer.mint_access_token("bob-sub", issuer=issuer.issuer + "2"), WrongIssuer),
    "issuer_with_trailing_slash": (lambda issuer: issuer.mint_access_token("bob-sub", issuer=issuer.issuer + "/"), WrongIssuer),
    "issuer_with_prefix": (lambda issuer: issuer.mint_access_token("bob-sub", issuer="x" + issuer.issuer), WrongIssuer),
    "issuer_as_list": (lambda issuer: issuer.mint_access_token("bob-sub", issuer=[issuer.issuer]), WrongIssuer),
    "issuer_missing": (lambda issuer: issuer.mint_access_token("bob-sub", issuer=None), WrongIssuer),
    "expired": (lambda issuer: issuer.mint_access_token("bob-sub", exp=int(time.time()) - 1), TokenExpired),
    "expired_beyond_any_leeway": (lambda issuer: issuer.mint_access_token("bob-sub", exp=int(time.time()) - 3600), TokenExpired),
    "nbf_in_future": (
        lambda issuer: issuer.mint_access_token("bob-sub", nbf=int(time.time()) + DEFAULT_LEEWAY_SECONDS + 60),
        TokenNotYetValid,
    ),
    "iat_in_future_beyond_leeway": (
        lambda issuer: issuer.mint_access_token("bob-sub", iat=int(time.time()) + DEFAULT_LEEWAY_SECONDS + 60),
        TokenNotYetValid,
    ),
    "exp_missing": (lambda issuer: issuer.mint_access_token("bob-sub", exp=None), InvalidClaim),
    "exp_as_string": (lambda issuer: issuer.mint_access_token("bob-sub", exp=str(int(time.time()) + 600)), InvalidClaim),
    "exp_as_boolean": (lambda issuer: issuer.mint_access_token("bob-sub", exp=True), InvalidClaim),
    "iat_missing": (lambda issuer: issuer.mint_access_token("bob-sub", iat=None), InvalidClaim),
    # JSON integers have no size limit. These once raised OverflowError, which callers turned into a 500.
    "exp_beyond_float_range": (lambda issuer: issuer.mint_access_token("bob-sub", exp=10**400), InvalidClaim),
    "iat_beyond_float_range": (lambda issuer: issuer.mint_access_token("bob-sub", iat=10**400), InvalidClaim),
    "nbf_beyond_float_range": (lambda issuer: issuer.mint_access_token("bob-sub", nbf=10**400), InvalidClaim),
    "exp_infinity": (lambda issuer: issuer.mint_access_token("bob-sub", exp=float("inf")), InvalidClaim),
    "sub_missing": (lambda issuer: issuer.mint_access_token("bob-sub", omit_claims=["sub"]), InvalidClaim),
    "sub_not_string": (lambda issuer: issuer.mint_access_token("bob-sub", extra_claims={"sub": 42}), InvalidClaim),
    "client_credentials_token_without_username": (
        lambda issuer: issuer.mint_access_token(issuer.client_id, omit_claims=["username"]),
        InvalidClaim,
    ),
    "jti_missing": (lambda issuer: issuer.mint_access_token("bob-sub", omit_claims=["jti"]), InvalidClaim),
    "scope_not_string": (lambda issuer: issuer.mint_access_token("bob-sub", extra_claims={"scope": [READ]}), InvalidClaim),
    "signed_by_unpublished_key_with_published_kid": (
        lambda issuer: issuer.mint_access_token(
            "bob-sub", key=LocalOidcIssuer(fresh_keys=True).current_key, kid=issuer.current_key.kid
        ),
        BadSignature,
    ),
    "payload_swapped_after_signing": (
        lambda issuer: _swap_payload(issuer.mint_access_token("bob-sub"), {"sub": "alice-sub"}),
        BadSignature,
    ),
    "signature_stripped": (lambda issuer: issuer.mint_access_token("bob-sub").rpartition(".")[0] + ".", BadSignature),
    "kid_missing": (lambda issuer: issuer.mint_access_token("bob-sub", headers={"kid": None}), MalformedToken),
    "kid_not_string": (lambda issuer: issuer.mint_access_token("bob-sub", headers={"kid": 7}), MalformedToken),
    "kid_unknown": (lambda issuer: issuer.mint_access_token("bob-sub", kid="no-such-kid"), UnknownKey),
}


def _swap_payload(token: str, changes: dict) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{_b64url_json(claims)}.{signature}"


@pytest.mark.parametrize("case", HOSTILE_TOKENS, ids=list(HOSTILE_TOKENS))
def test_verify_hostile_token_rejected(case, oidc_issuer, token_verifier):
    build, expected_error = HOSTILE_TOKENS[case]
    token = build(oidc_issuer)

    with pytest.raises(expected_error) as raised:
        token_verifier.verify(token)

    assert type(raised.value) is expected_error
    assert token not in str(raised.value)


# Each case is a token string that is not a well-formed compact JWS.
MALFORMED_TOKENS: dict[str, Callable[[LocalOidcIssuer], object]] = {
    "empty": lambda issuer: "",
    "not_a_string": lambda issuer: b"eyJ.eyJ.sig",
    "two_segments": lambda issuer: ".".join(issuer.mint_access_token("bob-sub").split(".")[:2]),
    "four_segments": lambda issuer: issuer.mint_access_token("bob-sub") + ".extra",
    "bad_base64_in_header": lambda issuer: "!!!." + issuer.mint_access_token("bob-sub").split(".", 1)[1],
    "bad_base64_in_payload": lambda issuer: _replace_segment(issuer.mint_access_token("bob-sub"), 1, "a*b"),
    "header_not_json": lambda issuer: _replace_segment(
        issuer.mint_access_token("bob-sub"), 0, base64.urlsafe_b64encode(b"not json").decode().rstrip("=")
    ),
    "header_json_array": lambda issuer: _replace_segment(issuer.mint_access_token("bob-sub"), 0, _b64url_json(["RS256"])),
    "payload_json_array": lambda issuer: issuer.sign([1, 2, 3]),  # type: ignore[arg-type]
    "token_of_64_kib": lambda issuer: "eyJ" + "a" * (64 * 1024) + ".b.c",
    "one_character_over_limit": lambda issuer: "a" * (MAX_TOKEN_CHARS + 1),
    "non_ascii": lambda issuer: issuer.mint_access_token("bob-sub") + "é",
    "bearer_prefix": lambda issuer: "Bearer " + issuer.mint_access_token("bob-sub"),
    "whitespace_around": lambda issuer: " " + issuer.mint_access_token("bob-sub") + " ",
}


def _replace_segment(token: str, index: int, segment: str) -> str:
    parts = token.split(".")
    parts[index] = segment
    return ".".join(parts)


@pytest.mark.parametrize("case", MALFORMED_TOKENS, ids=list(MALFORMED_TOKENS))
def test_verify_malformed_token_rejected(case, oidc_issuer, token_verifier):
    token = MALFORMED_TOKENS[case](oidc_issuer)

    with pytest.raises(MalformedToken):
        token_verifier.verify(token)  # type: ignore[arg-type]


def test_verify_oversized_token_skips_key_lookup(oidc_issuer, token_verifier):
    with pytest.raises(MalformedToken):
        token_verifier.verify("eyJ" + "a" * (64 * 1024) + ".b.c")

    assert oidc_issuer.jwks_fetch_count == 0


def test_verify_exp_equal_to_now_is_expired(oidc_issuer):
    clock = FakeClock(time.time())
    verifier = _verifier(oidc_issuer, clock)
    token = oidc_issuer.mint_access_token("bob-sub", exp=int(clock.now), iat=int(clock.now) - 60)
    clock.now = int(clock.now)

    with pytest.raises(TokenExpired):
        verifier.verify(token)


def test_verify_exp_one_second_ahead_is_valid(oidc_issuer):
    clock = FakeClock(int(time.time()))
    verifier = _verifier(oidc_issuer, clock)
    token = oidc_issuer.mint_access_token("bob-sub", exp=int(clock.now) + 1, iat=int(clock.now) - 60)

    assert verifier.verify(token).sub == "bob-sub"


def test_verify_iat_within_leeway_accepted(oidc_issuer, token_verifier):
    token = oidc_issuer.mint_access_token("bob-sub", iat=int(time.time()) + DEFAULT_LEEWAY_SECONDS - 2)

    assert token_verifier.verify(token).sub == "bob-sub"


def test_verify_nbf_within_leeway_accepted(oidc_issuer, token_verifier):
    token = oidc_issuer.mint_access_token("bob-sub", nbf=int(time.time()) + DEFAULT_LEEWAY_SECONDS - 2)

    assert token_verifier.verify(token).sub == "bob-sub"


def test_verify_missing_scope_rejected(oidc_issuer, token_verifier):
    token = oidc_issuer.mint_access_token("bob-sub", scopes=[READ])

    with pytest.raises(ScopeMissing) as raised:
        token_verifier.verify(token, required_scopes=[TRANSACTIONS])

    assert TRANSACTIONS in str(raised.value)
    assert raised.value.sub == "bob-sub"


def test_verify_scope_prefix_does_not_match(oidc_issuer, token_verifier):
    token = oidc_issuer.mint_access_token("bob-sub", scopes=[READ + "x", "x" + READ])

    with pytest.raises(ScopeMissing):
        token_verifier.verify(token, required_scopes=[READ])


def test_verify_constructor_scopes_apply_with_per_call_scopes(oidc_issuer):
    verifier = _verifier(oidc_issuer, required_scopes=[READ])
    token = oidc_issuer.mint_access_token("bob-sub", scopes=[TRANSACTIONS])

    with pytest.raises(ScopeMissing):
        verifier.verify(token, required_scopes=[TRANSACTIONS])


def test_verify_all_required_scopes_present_accepted(oidc_issuer, token_verifier):
    token = oidc_issuer.mint_access_token("bob-sub", scopes=[READ, TRANSACTIONS, "openid"])

    claims = token_verifier.verify(token, required_scopes=[READ, TRANSACTIONS])

    assert claims.scopes >= {READ, TRANSACTIONS}


def test_verify_token_headers_jku_jwk_x5u_ignored(oidc_issuer, token_verifier):
    attacker = LocalOidcIssuer(fresh_keys=True)
    with RequestCounter() as attacker_server:
        hostile_headers = {
            "jku": attacker_server.url,
            "x5u": attacker_server.url,
            "jwk": attacker.current_key.jwk(),
        }
        # Signed by the attacker, under a kid the pool publishes.
        forged = oidc_issuer.mint_access_token(
            "alice-sub", key=attacker.current_key, kid=oidc_issuer.current_key.kid, headers=hostile_headers
        )
        # Signed by the attacker, under the attacker's own kid.
        self_declared = oidc_issuer.mint_access_token("alice-sub", key=attacker.current_key, headers=hostile_headers)
        honest = oidc_issuer.mint_access_token("bob-sub", headers=hostile_headers)

        with pytest.raises(BadSignature):
            token_verifier.verify(forged)
        with pytest.raises(UnknownKey):
            token_verifier.verify(self_declared)
        honest_claims = token_verifier.verify(honest)

        assert attacker_server.requests == 0
    assert honest_claims.sub == "bob-sub"


def test_verify_x5c_header_ignored(oidc_issuer, token_verifier):
    attacker = LocalOidcIssuer(fresh_keys=True)
    forged = oidc_issuer.mint_access_token(
        "alice-sub", key=attacker.current_key, kid=oidc_issuer.current_key.kid, headers={"x5c": ["MIIBIjANBg=="]}
    )

    with pytest.raises(BadSignature):
        token_verifier.verify(forged)


def test_verify_error_messages_never_contain_token(oidc_issuer, token_verifier):
    tokens = [
        oidc_issuer.mint_access_token("bob-sub", exp=int(time.time()) - 5),
        oidc_issuer.mint_access_token("bob-sub", alg="none"),
        oidc_issuer.mint_access_token("bob-sub", issuer="https://evil.example"),
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0",
    ]

    for token in tokens:
        with pytest.raises(TokenRejected) as raised:
            token_verifier.verify(token)
        assert "eyJ" not in str(raised.value)


def test_verify_no_keys_raises_keys_unavailable(oidc_issuer, token_verifier):
    oidc_issuer.fail_jwks(503)
    token = oidc_issuer.mint_access_token("bob-sub")

    with pytest.raises(KeysUnavailable):
        token_verifier.verify(token)


class _DecodeCounter:
    """Counts calls of PyJWT's decode, where the signature is verified."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = jwt.PyJWT.decode

        def counting_decode(instance, *args, **kwargs):
            self.calls += 1
            return original(instance, *args, **kwargs)

        monkeypatch.setattr(jwt.PyJWT, "decode", counting_decode)


def test_claims_cache_hit_skips_signature_check(oidc_issuer, token_verifier, monkeypatch):
    decodes = _DecodeCounter(monkeypatch)
    token = oidc_issuer.mint_access_token("bob-sub", scopes=[READ])

    first = token_verifier.verify(token)
    second = token_verifier.verify(token, required_scopes=[READ])

    assert second is first
    assert decodes.calls == 1


def test_claims_cache_hit_rechecks_requested_scopes(oidc_issuer, token_verifier):
    token = oidc_issuer.mint_access_token("bob-sub", scopes=[READ])
    token_verifier.verify(token, required_scopes=[READ])

    with pytest.raises(ScopeMissing):
        token_verifier.verify(token, required_scopes=[TRANSACTIONS])


def test_claims_cache_entry_expires_at_token_exp(oidc_issuer, monkeypatch):
    clock = FakeClock(int(time.time()))
    verifier = _verifier(oidc_issuer, clock)
    decodes = _DecodeCounter(monkeypatch)
    token = oidc_issuer.mint_access_token("bob-sub", exp=int(clock.now) + 300, iat=int(clock.now))
    verifier.verify(token)

    clock.advance(299)
    verifier.verify(token)
    calls_before_exp = decodes.calls
    clock.advance(1)

    with pytest.raises(TokenExpired):
        verifier.verify(token)
    assert calls_before_exp == 1


def test_claims_cache_expired_entry_is_dropped(oidc_issuer, monkeypatch):
    clock = FakeClock(int(time.time()))
    verifier = _verifier(oidc_issuer, clock)
    decodes = _DecodeCounter(monkeypatch)
    token = oidc_issuer.mint_access_token("bob-sub", exp=int(clock.now) + 10, iat=int(clock.now))
    verifier.verify(token)
    clock.advance(10)

    for _ in range(2):
        with pytest.raises(TokenExpired):
            verifier.verify(token)

    # The first expired lookup dropped the entry, so the second ran the full check.
    assert decodes.calls == 2


def test_claims_cache_evicts_least_recently_used(oidc_issuer, monkeypatch):
    verifier = _verifier(oidc_issuer, claims_cache_size=2)
    decodes = _DecodeCounter(monkeypatch)
    first, second, third = (oidc_issuer.mint_access_token(f"user-{index}") for index in range(3))

    for token in (first, second, first, third):
        verifier.verify(token)
    calls_after_fill = decodes.calls
    verifier.verify(first)
    calls_after_recent = decodes.calls
    verifier.verify(second)

    assert calls_after_fill == 3
    assert calls_after_recent == 3
    assert decodes.calls == 4


def test_claims_cache_disabled_verifies_every_time(oidc_issuer, monkeypatch):
    verifier = _verifier(oidc_issuer, claims_cache_size=0)
    decodes = _DecodeCounter(monkeypatch)
    token = oidc_issuer.mint_access_token("bob-sub")

    verifier.verify(token)
    verifier.verify(token)

    assert decodes.calls == 2


def test_claims_cache_never_stores_rejected_token(oidc_issuer, token_verifier, monkeypatch):
    decodes = _DecodeCounter(monkeypatch)
    token = oidc_issuer.mint_access_token("bob-sub", client_id="otherclient0000000000000")

    for _ in range(2):
        with pytest.raises(ClientNotAllowed):
            token_verifier.verify(token)

    assert decodes.calls == 2


@pytest.mark.parametrize(
    "options",
    [
        {"issuer": ""},
        {"allowed_client_ids": []},
        {"allowed_client_ids": [""]},
        {"leeway_seconds": -1},
        {"leeway_seconds": float("inf")},
        {"claims_cache_size": -1},
    ],
    ids=["empty_issuer", "no_clients", "empty_client", "negative_leeway", "infinite_leeway", "negative_cache"],
)
def test_token_verifier_invalid_options_rejected(options, oidc_issuer, jwks_cache):
    arguments = {"issuer": oidc_issuer.issuer, "allowed_client_ids": [oidc_issuer.client_id], "keys": jwks_cache}
    arguments.update(options)

    with pytest.raises(ValueError):
        TokenVerifier(**arguments)


def test_verified_claims_type_is_public():
    assert VerifiedClaims.__dataclass_params__.frozen  # type: ignore[attr-defined]
