"""Officers' Cognito access tokens, verified here with the standard library only.

The Lambda runtime (python3.11 on Amazon Linux 2, glibc 2.26) cannot install current ``cryptography`` wheels
(manylinux_2_28), so RS256 is checked by hand: it is one modular exponentiation and a byte comparison.

What is checked, in the order Cognito's guide gives
(https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html):
structure, algorithm and key id, signature against the pool's JWKS, then the claims iss, token_use == "access",
client_id and exp. Roles and areas come from the ``cognito:groups`` claim.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from shared import clock, config, http
from shared.errors import ConfigurationError, InvalidTokenError, KeysUnavailableError

ROLES: frozenset[str] = frozenset({"officer", "supervisor", "admin"})
AREA_GROUP_PREFIX = "area:"

# Cognito rotates signing keys rarely; a token with an unknown kid triggers one refetch, but no more often than this,
# so that a stream of forged kids cannot make every request call Cognito.
JWKS_REFETCH_INTERVAL_SECONDS = 300.0
# Cognito access tokens are 1-2 KB; the cap only bounds the work done on junk before it is rejected.
MAX_TOKEN_CHARS = 32 * 1024
# Cognito signs with 2048-bit keys; anything smaller in a JWKS is refused rather than trusted.
MIN_MODULUS_BITS = 2048

# RFC 8017 §9.2 note 1: the DER encoding of DigestInfo for SHA-256, which precedes the 32-byte hash inside EM.
_SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Principal:
    """The signed-in officer: Cognito's ``sub`` and ``username``, and what their groups allow."""

    subject: str
    username: str
    roles: frozenset[str] = field(default_factory=frozenset)
    areas: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class _RsaKey:
    n: int
    e: int


@dataclass
class _KeySet:
    keys: dict[str, _RsaKey]
    fetched_at: float


# JWKS per URL, kept for the life of the Lambda container.
_jwks_cache: dict[str, _KeySet] = {}
# Indirection so that tests can move the refetch clock without sleeping.
_monotonic = time.monotonic


def reset() -> None:
    """Forget the cached JWKS (tests, or to force a refetch)."""
    _jwks_cache.clear()


def verify_access_token(token: str, *, now: float | None = None) -> Principal:
    """The Principal of a valid Cognito access token; InvalidTokenError for anything else.

    ConfigurationError if COGNITO_ISSUER or COGNITO_CLIENT_ID is not set; KeysUnavailableError if the JWKS
    cannot be fetched.
    """
    issuer = config.get("COGNITO_ISSUER").rstrip("/")
    client_id = config.get("COGNITO_CLIENT_ID")
    current = clock.now().timestamp() if now is None else now

    # RFC 7515 §7.1 (JWS compact serialization): BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature).
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise InvalidTokenError("token is not a string of plausible length")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidTokenError("token does not have three parts")
    encoded_header, encoded_payload, encoded_signature = parts
    header = _decode_json(encoded_header, "header")
    signature = _b64url_decode(encoded_signature, "signature")

    # The algorithm is fixed here, never taken from the token: "none" and HS256 (an HMAC keyed with the public key,
    # the classic confusion attack) must fail before any key is looked at. RFC 7515 §4.1.1.
    if header.get("alg") != "RS256":
        raise InvalidTokenError("token algorithm is not RS256")
    # RFC 7515 §4.1.11: an extension we do not understand, marked critical, means the token must be rejected.
    if "crit" in header:
        raise InvalidTokenError("token carries critical header extensions")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidTokenError("token has no key id")

    key = _signing_key(_jwks_url(issuer), kid)
    # RFC 7515 §5.2: the signature covers the ASCII of the first two parts exactly as they were sent.
    signing_input = f"{encoded_header}.{encoded_payload}".encode("ascii")
    if not _rsassa_pkcs1_v1_5_sha256_verify(key, signing_input, signature):
        raise InvalidTokenError("token signature is invalid")

    # Claims are read only once the signature shows Cognito wrote them.
    claims = _decode_json(encoded_payload, "payload")
    if claims.get("iss") != issuer:
        raise InvalidTokenError("token issuer is not the configured user pool")
    # An id token is signed by the same keys; only an access token authorises API calls.
    if claims.get("token_use") != "access":
        raise InvalidTokenError("token is not an access token")
    # Access tokens carry the app client in client_id (id tokens use aud instead).
    if claims.get("client_id") != client_id:
        raise InvalidTokenError("token was issued to another app client")
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise InvalidTokenError("token has no expiry")
    if exp <= current:
        raise InvalidTokenError("token has expired")

    subject = claims.get("sub")
    username = claims.get("username")
    if not isinstance(subject, str) or not subject or not isinstance(username, str) or not username:
        raise InvalidTokenError("token has no subject or username")
    groups = claims.get("cognito:groups", [])
    if not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
        raise InvalidTokenError("token groups are malformed")
    return Principal(
        subject=subject,
        username=username,
        roles=frozenset(group for group in groups if group in ROLES),
        areas=frozenset(
            group[len(AREA_GROUP_PREFIX) :]
            for group in groups
            if group.startswith(AREA_GROUP_PREFIX) and len(group) > len(AREA_GROUP_PREFIX)
        ),
    )


def _jwks_url(issuer: str) -> str:
    try:
        return config.get("COGNITO_JWKS_URL")
    except ConfigurationError:
        # Cognito publishes every pool's keys at this fixed place under its issuer URL.
        return f"{issuer}/.well-known/jwks.json"


def _signing_key(url: str, kid: str) -> _RsaKey:
    """The key ``kid`` of the JWKS at ``url``; one throttled refetch when it is unknown (key rotation)."""
    cached = _jwks_cache.get(url)
    if cached is None:
        cached = _fetch_jwks(url)
    elif kid not in cached.keys and _monotonic() - cached.fetched_at >= JWKS_REFETCH_INTERVAL_SECONDS:
        # Mark the attempt first, so that a failing refetch is throttled too.
        cached.fetched_at = _monotonic()
        cached = _fetch_jwks(url)
    key = cached.keys.get(kid)
    if key is None:
        raise InvalidTokenError("token key id is not in the user pool's JWKS")
    return key


def _fetch_jwks(url: str) -> _KeySet:
    try:
        response = http.request("GET", url)
    except http.HttpError as error:
        raise KeysUnavailableError("the user pool's JWKS could not be fetched") from error
    document = response.json() if response.status == 200 else None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeysUnavailableError(f"the user pool's JWKS answered {response.status} without a key set")
    keys = {}
    for jwk in document["keys"]:
        parsed = _parse_rsa_jwk(jwk)
        if parsed is not None:
            keys[jwk["kid"]] = parsed
    key_set = _KeySet(keys=keys, fetched_at=_monotonic())
    _jwks_cache[url] = key_set
    return key_set


def _parse_rsa_jwk(jwk: Any) -> _RsaKey | None:
    """An RS256 signing key from one JWK (RFC 7517 §4, RFC 7518 §6.3.1), or None to skip any other kind.

    n and e are base64url of unsigned big-endian integers.
    """
    if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not isinstance(jwk.get("kid"), str):
        return None
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", "RS256") != "RS256":
        return None
    if not isinstance(jwk.get("n"), str) or not isinstance(jwk.get("e"), str):
        return None
    try:
        n = int.from_bytes(_b64url_decode(jwk["n"], "modulus"), "big")
        e = int.from_bytes(_b64url_decode(jwk["e"], "exponent"), "big")
    except InvalidTokenError:
        return None
    if n.bit_length() < MIN_MODULUS_BITS or e < 3 or e % 2 == 0:
        return None
    return _RsaKey(n=n, e=e)


def _rsassa_pkcs1_v1_5_sha256_verify(key: _RsaKey, message: bytes, signature: bytes) -> bool:
    """RSASSA-PKCS1-v1_5-VERIFY with SHA-256, RFC 8017 §8.2.2.

    Rather than parse the recovered block (where lax parsers have let forged signatures through, e.g.
    Bleichenbacher's e=3 attack), the one valid encoding EMSA-PKCS1-v1_5 (§9.2) is built and compared whole.
    """
    k = (key.n.bit_length() + 7) // 8
    # §8.2.2 step 1: the signature is exactly as long as the modulus.
    if len(signature) != k:
        return False
    # §5.2.2 (RSAVP1): the representative must be below the modulus.
    s = int.from_bytes(signature, "big")
    if s >= key.n:
        return False
    em = pow(s, key.e, key.n).to_bytes(k, "big")
    # §9.2: EM = 0x00 || 0x01 || PS (0xFF bytes, at least 8) || 0x00 || DigestInfo(SHA-256, H).
    t = _SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(message).digest()
    if k < len(t) + 11:
        return False
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(em, expected)


def _b64url_decode(text: str, what: str) -> bytes:
    """Base64url without padding (RFC 7515 §2); anything else is a malformed token."""
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise InvalidTokenError(f"token {what} is not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _decode_json(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64url_decode(text, what), object_pairs_hook=_reject_duplicate_names)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidTokenError(f"token {what} is not JSON") from error
    if not isinstance(value, dict):
        raise InvalidTokenError(f"token {what} is not a JSON object")
    return value


def _reject_duplicate_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 §4: a header with duplicate names must be rejected (or the last taken); rejecting is the safe reading,
    # and the same rule is applied to the claims so that two parsers can never disagree about a token.
    value = dict(pairs)
    if len(value) != len(pairs):
        raise ValueError("duplicate member name")
    return value
