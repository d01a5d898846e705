"""Validation of a JWKS document and its canonical form.

A valid document is a JSON object whose ``keys`` array contains 1 to
``MAX_KEYS`` RSA public keys. Each key has ``kid``, ``n`` and ``e`` and no
private-key member. Its modulus has ``MIN_MODULUS_BITS`` to
``MAX_MODULUS_BITS`` bits. ``alg``, when present, is RS256, and ``use``, when
present, is sig. The canonical form keeps only the public members that the
verifiers use, sorted, so the same keys always produce the same text.
"""

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

from jwks_snapshot.errors import InvalidJwksError

# Members of an RSA private JWK (RFC 7518, section 6.3.2). Any of them means
# the document leaks private key material and must not be published.
PRIVATE_MEMBERS: Final = ("d", "p", "q", "dp", "dq", "qi", "oth")
# Public members copied into the canonical form. Others, such as x5c, are dropped.
CANONICAL_MEMBERS: Final = ("kty", "kid", "n", "e", "alg", "use")
MAX_KEYS: Final = 16
MIN_MODULUS_BITS: Final = 2048
MAX_MODULUS_BITS: Final = 8192
# Real public exponents are 65537 or another small odd number.
MAX_EXPONENT_BITS: Final = 32

_KID_PATTERN: Final = re.compile(r"[\x21-\x7E]{1,256}")
_BASE64URL_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class ValidatedJwks:
    """A JWKS that passed validation, in canonical JSON text, with its key ids in canonical order."""

    canonical_json: str
    kids: tuple[str, ...]


def validate_jwks(document: bytes) -> ValidatedJwks:
    """Validate a fetched JWKS and return its canonical form, or raise InvalidJwksError naming the problem."""
    parsed = _parse_json(document)
    if not isinstance(parsed, dict):
        raise InvalidJwksError(f"The JWKS must be a JSON object, received a JSON {type(parsed).__name__}.")

    keys = parsed.get("keys")
    if not isinstance(keys, list) or not keys:
        raise InvalidJwksError('The JWKS must have a non-empty "keys" array.')
    if len(keys) > MAX_KEYS:
        raise InvalidJwksError(f"The JWKS has {len(keys)} keys, more than the maximum of {MAX_KEYS}.")

    canonical_keys = [_validate_key(index, key) for index, key in enumerate(keys)]
    kids = [key["kid"] for key in canonical_keys]
    duplicates = sorted({kid for kid in kids if kids.count(kid) > 1})
    if duplicates:
        raise InvalidJwksError(f"The JWKS has duplicate kid values: {', '.join(duplicates)}.")

    canonical_keys.sort(key=lambda key: key["kid"])
    canonical_json = json.dumps({"keys": canonical_keys}, sort_keys=True, separators=(",", ":"))
    return ValidatedJwks(canonical_json=canonical_json, kids=tuple(key["kid"] for key in canonical_keys))


def _parse_json(document: bytes) -> Any:
    try:
        return json.loads(document.decode("utf-8"), object_pairs_hook=_reject_duplicate_members)
    except UnicodeDecodeError as error:
        raise InvalidJwksError("The JWKS is not UTF-8 text.") from error
    except ValueError as error:
        # json.JSONDecodeError is a ValueError, and so is the duplicate-member error.
        raise InvalidJwksError(f"The JWKS is not valid JSON: {error}.") from error


def _reject_duplicate_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        # Parsers disagree on which duplicate wins, so a duplicate could hide a member from one of them.
        raise ValueError(f"duplicate member names {', '.join(duplicates)}")
    return dict(pairs)


def _validate_key(index: int, key: Any) -> dict[str, str]:
    if not isinstance(key, dict):
        raise InvalidJwksError(f"Key {index} of the JWKS is a JSON {type(key).__name__}, expected an object.")

    kid = key.get("kid")
    if not isinstance(kid, str) or not _KID_PATTERN.fullmatch(kid):
        raise InvalidJwksError(f'Key {index} of the JWKS has a missing or invalid "kid".')
    label = f"Key {index} (kid {kid!r})"

    private = [member for member in PRIVATE_MEMBERS if member in key]
    if private:
        raise InvalidJwksError(
            f"{label} contains the private-key members {', '.join(private)}. A published JWKS must contain "
            "only public keys, so the snapshot was not written. Check the JWKS URL."
        )
    if key.get("kty") != "RSA":
        raise InvalidJwksError(f'{label} has kty {_quote_truncated(key.get("kty"))}, expected "RSA".')
    if "alg" in key and key["alg"] != "RS256":
        raise InvalidJwksError(f'{label} has alg {_quote_truncated(key["alg"])}, expected "RS256".')
    if "use" in key and key["use"] != "sig":
        raise InvalidJwksError(f'{label} has use {_quote_truncated(key["use"])}, expected "sig".')
    if "key_ops" in key and key["key_ops"] != ["verify"]:
        raise InvalidJwksError(f'{label} has key_ops {_quote_truncated(key["key_ops"])}, expected ["verify"].')

    modulus = _decode_unsigned(label, key, "n")
    exponent = _decode_unsigned(label, key, "e")
    _check_rsa_numbers(label, modulus, exponent)

    return {member: key[member] for member in CANONICAL_MEMBERS if member in key}


def _quote_truncated(value: Any) -> str:
    # The document is untrusted, so a value quoted in an error is cut to a readable length.
    representation = repr(value)
    return representation if len(representation) <= 40 else representation[:40] + "... (truncated)"


def _decode_unsigned(label: str, key: dict[str, Any], member: str) -> int:
    value = key.get(member)
    if not isinstance(value, str) or not _BASE64URL_PATTERN.fullmatch(value):
        raise InvalidJwksError(f'{label} has a missing or invalid "{member}": expected unpadded base64url.')
    try:
        return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")
    except (binascii.Error, ValueError) as error:
        raise InvalidJwksError(f'{label} has an invalid "{member}": expected unpadded base64url.') from error


def _check_rsa_numbers(label: str, modulus: int, exponent: int) -> None:
    bits = modulus.bit_length()
    if not MIN_MODULUS_BITS <= bits <= MAX_MODULUS_BITS:
        raise InvalidJwksError(
            f"{label} has a {bits}-bit modulus, expected {MIN_MODULUS_BITS} to {MAX_MODULUS_BITS} bits."
        )
    if exponent < 3 or exponent % 2 == 0 or exponent.bit_length() > MAX_EXPONENT_BITS:
        raise InvalidJwksError(
            f"{label} has an invalid exponent: expected an odd number from 3 to 2^{MAX_EXPONENT_BITS} - 1."
        )

    try:
        RSAPublicNumbers(exponent, modulus).public_key()
    except ValueError as error:
        raise InvalidJwksError(f"{label} is not a valid RSA public key: {error}.") from error
