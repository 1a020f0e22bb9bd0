"""Cognito access tokens: signed here by `cryptography` (independent of the pure-Python verifier), and by moto."""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from shared import http, tokens
from shared.errors import ConfigurationError, SamparkError
from shared.tokens import InvalidTokenError, KeysUnavailableError, Principal, verify_access_token

ISSUER = "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_TestPool1"
CLIENT_ID = "3n4b5urk1ft4fl3mg5e62d9ado"
JWKS_URL = ISSUER + "/.well-known/jwks.json"
NOW = 1_800_000_000.0

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
NEW_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "key-2026"
NEW_KID = "key-2027"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_json(value: object) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


def _uint(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": _uint(numbers.n), "e": _uint(numbers.e)}


def _claims(**overrides: Any) -> dict[str, Any]:
    claims = {
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "cognito:groups": ["officer", "area:bank-more"],
        "iss": ISSUER,
        "client_id": CLIENT_ID,
        "origin_jti": "11111111-2222-3333-4444-555555555555",
        "event_id": "66666666-7777-8888-9999-000000000000",
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": int(NOW) - 60,
        "exp": int(NOW) + 3600,
        "iat": int(NOW) - 60,
        "jti": "12345678-1234-1234-1234-123456789012",
        "username": "officer.sharma",
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def _sign(claims: dict[str, Any], *, key: rsa.RSAPrivateKey = KEY, header: dict[str, Any] | None = None) -> str:
    signing_input = f"{_b64url_json(header or {'kid': KID, 'alg': 'RS256'})}.{_b64url_json(claims)}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return f"{_b64url_json(header)}.{_b64url_json(claims)}.{_b64url(signature)}"


@dataclass
class FakeJwks:
    """Serves a key set through the monkeypatched shared.http.request; counts fetches, moves the refetch clock."""

    documents: dict[str, Any] = field(default_factory=dict)
    fetches: list[str] = field(default_factory=list)
    clock: float = 1000.0

    def request(self, method: str, url: str, **_: Any) -> http.HttpResponse:
        assert method == "GET"
        self.fetches.append(url)
        document = self.documents.get(url)
        if document is None:
            return http.HttpResponse(404, b"not found", {})
        if isinstance(document, Exception):
            raise document
        return http.HttpResponse(200, json.dumps(document).encode(), {"Content-Type": "application/json"})

    def serve(self, *jwks: dict[str, str], url: str = JWKS_URL) -> None:
        self.documents[url] = {"keys": list(jwks)}

    def advance(self, seconds: float) -> None:
        self.clock += seconds


@pytest.fixture
def jwks(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeJwks]:
    fake = FakeJwks()
    fake.serve(_jwk(KEY, KID))
    monkeypatch.setenv("COGNITO_ISSUER", ISSUER)
    monkeypatch.setenv("COGNITO_CLIENT_ID", CLIENT_ID)
    monkeypatch.delenv("COGNITO_JWKS_URL", raising=False)
    monkeypatch.setattr(http, "request", fake.request)
    monkeypatch.setattr(tokens, "_monotonic", lambda: fake.clock)
    tokens.reset()
    yield fake
    tokens.reset()


# --- accepted ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("groups", "roles", "areas"),
    [
        pytest.param(["officer", "area:bank-more"], {"officer"}, {"bank-more"}, id="officer_one_area"),
        pytest.param(
            ["supervisor", "area:bank-more", "area:jharia"], {"supervisor"}, {"bank-more", "jharia"}, id="sup"
        ),
        pytest.param(["admin"], {"admin"}, set(), id="admin_no_area"),
        pytest.param(["officer", "supervisor", "admin"], {"officer", "supervisor", "admin"}, set(), id="all_roles"),
        pytest.param(["Officer", "area:", "other", "ADMIN"], set(), set(), id="unknown_groups_ignored"),
        pytest.param(None, set(), set(), id="no_groups_claim"),
    ],
)
def test_valid_access_token_gives_principal(
    jwks: FakeJwks, groups: list[str] | None, roles: set[str], areas: set[str]
) -> None:
    principal = verify_access_token(_sign(_claims(**{"cognito:groups": groups})), now=NOW)

    assert principal == Principal(
        subject="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        username="officer.sharma",
        roles=frozenset(roles),
        areas=frozenset(areas),
    )
    assert jwks.fetches == [JWKS_URL]


def test_jwks_is_fetched_once_and_cached(jwks: FakeJwks) -> None:
    for _ in range(3):
        verify_access_token(_sign(_claims()), now=NOW)
    assert jwks.fetches == [JWKS_URL]


def test_jwks_url_setting_overrides_the_default(jwks: FakeJwks, monkeypatch: pytest.MonkeyPatch) -> None:
    other = "https://keys.example.test/jwks.json"
    monkeypatch.setenv("COGNITO_JWKS_URL", other)
    jwks.serve(_jwk(KEY, KID), url=other)

    verify_access_token(_sign(_claims()), now=NOW)
    assert jwks.fetches == [other]


def test_issuer_with_trailing_slash_in_setting_still_matches(jwks: FakeJwks, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COGNITO_ISSUER", ISSUER + "/")
    assert verify_access_token(_sign(_claims()), now=NOW).username == "officer.sharma"


def test_default_now_is_the_app_clock(jwks: FakeJwks) -> None:
    # conftest fixes shared.clock.now; a token valid at that instant is accepted without passing now.
    from shared import clock

    fixed = clock.now().timestamp()
    verify_access_token(_sign(_claims(exp=int(fixed) + 10)))
    with pytest.raises(InvalidTokenError):
        verify_access_token(_sign(_claims(exp=int(fixed))))


# --- rejected ----------------------------------------------------------------------------------------------------


def _tampered() -> str:
    header, _, signature = _sign(_claims()).split(".")
    return f"{header}.{_b64url_json(_claims(**{'cognito:groups': ['admin']}))}.{signature}"


def _truncated_signature() -> str:
    header, payload, signature = _sign(_claims()).split(".")
    return f"{header}.{payload}.{_b64url(base64.urlsafe_b64decode(signature + '==')[:-1])}"


def _left_padded_signature() -> str:
    # Same integer, one byte longer than the modulus: §8.2.2 step 1 rejects it on length alone.
    header, payload, signature = _sign(_claims()).split(".")
    longer = b"\x00" + base64.urlsafe_b64decode(signature + "==")
    return f"{header}.{payload}.{_b64url(longer)}"


def _hs256_with_public_key(secret: bytes) -> str:
    header = _b64url_json({"kid": KID, "alg": "HS256"})
    payload = _b64url_json(_claims())
    mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(mac)}"


_PUBLIC_PEM = KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
_OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)

REJECTED: list[Any] = [
    pytest.param(lambda: _sign(_claims(exp=int(NOW) - 1)), id="expired"),
    pytest.param(lambda: _sign(_claims(exp=int(NOW))), id="expires_exactly_now"),
    pytest.param(lambda: _sign(_claims(exp=str(int(NOW) + 3600))), id="exp_as_string"),
    pytest.param(lambda: _sign(_claims(exp=True)), id="exp_as_bool"),
    pytest.param(lambda: _sign(_claims(iss="https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_Other")), id="iss"),
    pytest.param(lambda: _sign(_claims(iss=ISSUER + "/")), id="iss_trailing_slash"),
    pytest.param(lambda: _sign(_claims(client_id="another-client")), id="wrong_client_id"),
    pytest.param(
        lambda: _sign(_claims(token_use="id", client_id=None, aud=CLIENT_ID, **{"cognito:username": "x"})),
        id="id_token",
    ),
    pytest.param(lambda: _sign(_claims(token_use="id")), id="id_token_use_with_client_id"),
    pytest.param(lambda: _sign(_claims(iss=None)), id="missing_iss"),
    pytest.param(lambda: _sign(_claims(token_use=None)), id="missing_token_use"),
    pytest.param(lambda: _sign(_claims(client_id=None)), id="missing_client_id"),
    pytest.param(lambda: _sign(_claims(exp=None)), id="missing_exp"),
    pytest.param(lambda: _sign(_claims(sub=None)), id="missing_sub"),
    pytest.param(lambda: _sign(_claims(username=None)), id="missing_username"),
    pytest.param(lambda: _sign(_claims(username="")), id="empty_username"),
    pytest.param(lambda: _sign(_claims(**{"cognito:groups": "officer"})), id="groups_not_a_list"),
    pytest.param(lambda: _sign(_claims(**{"cognito:groups": ["officer", 7]})), id="groups_not_strings"),
    pytest.param(lambda: _unsigned({"kid": KID, "alg": "none"}, _claims()), id="alg_none"),
    pytest.param(lambda: _unsigned({"kid": KID, "alg": "none"}, _claims(), b"x"), id="alg_none_with_signature"),
    pytest.param(lambda: _unsigned({"kid": KID}, _claims(), b"x" * 256), id="alg_missing"),
    pytest.param(lambda: _sign(_claims(), header={"kid": KID, "alg": "rs256"}), id="alg_lowercase"),
    pytest.param(lambda: _sign(_claims(), header={"kid": KID, "alg": "RS512"}), id="alg_rs512_label"),
    pytest.param(lambda: _hs256_with_public_key(_PUBLIC_PEM), id="hs256_public_pem_as_secret"),
    pytest.param(
        lambda: _hs256_with_public_key(json.dumps({"keys": [_jwk(KEY, KID)]}).encode()), id="hs256_jwks_as_secret"
    ),
    pytest.param(lambda: _sign(_claims(), header={"alg": "RS256"}), id="kid_missing"),
    pytest.param(lambda: _sign(_claims(), header={"kid": "", "alg": "RS256"}), id="kid_empty"),
    pytest.param(lambda: _sign(_claims(), header={"kid": KID, "alg": "RS256", "crit": ["exp"]}), id="crit_header"),
    pytest.param(lambda: _sign(_claims(), key=_OTHER_KEY), id="signed_by_another_key_same_kid"),
    pytest.param(_tampered, id="tampered_payload"),
    pytest.param(_truncated_signature, id="truncated_signature"),
    pytest.param(_left_padded_signature, id="signature_longer_than_modulus"),
    pytest.param(lambda: _sign(_claims()).rsplit(".", 1)[0] + ".", id="empty_signature"),
    pytest.param(lambda: _sign(_claims()) + "=", id="padded_signature"),
    pytest.param(lambda: _sign(_claims()) + ".extra", id="four_parts"),
    pytest.param(lambda: _sign(_claims()).rsplit(".", 1)[0], id="two_parts"),
    pytest.param(lambda: "", id="empty_string"),
    pytest.param(lambda: "garbage", id="garbage"),
    pytest.param(lambda: "a.b.c", id="three_garbage_parts"),
    pytest.param(lambda: "..", id="three_empty_parts"),
    pytest.param(lambda: "Bearer " + _sign(_claims()), id="with_bearer_prefix"),
    pytest.param(lambda: "é.é.é", id="non_ascii"),
    pytest.param(lambda: f"{_b64url(b'[1]')}.{_b64url_json(_claims())}.AAAA", id="header_not_object"),
    pytest.param(lambda: f"{_b64url(b'{nope')}.{_b64url_json(_claims())}.AAAA", id="header_not_json"),
    pytest.param(lambda: _b64url(b"\xff\xfe") + "." + _b64url_json(_claims()) + ".AAAA", id="header_not_utf8"),
    pytest.param(
        lambda: _sign(_claims()).replace(
            _b64url_json({"kid": KID, "alg": "RS256"}), _b64url(b'{"kid":"key-2026","alg":"RS256","alg":"none"}'), 1
        ),
        id="duplicate_header_names",
    ),
    pytest.param(lambda: "a" * (tokens.MAX_TOKEN_CHARS + 1), id="oversized"),
]


@pytest.mark.parametrize("make_token", REJECTED)
def test_invalid_tokens_are_rejected(jwks: FakeJwks, make_token: Callable[[], str]) -> None:
    token = make_token()
    with pytest.raises(InvalidTokenError):
        verify_access_token(token, now=NOW)


def test_signed_payload_that_is_not_json_is_rejected(jwks: FakeJwks) -> None:
    # Only the key holder could produce this; it must still fail cleanly, not with a raw ValueError.
    signing_input = f"{_b64url_json({'kid': KID, 'alg': 'RS256'})}.{_b64url(b'not json')}"
    signature = KEY.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidTokenError, match="not JSON"):
        verify_access_token(f"{signing_input}.{_b64url(signature)}", now=NOW)


def test_signature_is_checked_before_claims(jwks: FakeJwks) -> None:
    with pytest.raises(InvalidTokenError, match="signature"):
        verify_access_token(_sign(_claims(exp=1), key=_OTHER_KEY), now=NOW)


def test_invalid_token_error_is_a_sampark_error() -> None:
    assert issubclass(InvalidTokenError, SamparkError)


# --- keys: rotation, unknown kids, bad key sets ------------------------------------------------------------------


def test_unknown_kid_refetches_once_then_rejects(jwks: FakeJwks) -> None:
    verify_access_token(_sign(_claims()), now=NOW)
    jwks.advance(tokens.JWKS_REFETCH_INTERVAL_SECONDS)

    stranger = _sign(_claims(), key=_OTHER_KEY, header={"kid": "unknown", "alg": "RS256"})
    with pytest.raises(InvalidTokenError, match="key id"):
        verify_access_token(stranger, now=NOW)
    assert jwks.fetches == [JWKS_URL, JWKS_URL]

    # Within the interval, more unknown kids do not reach Cognito.
    for _ in range(5):
        with pytest.raises(InvalidTokenError, match="key id"):
            verify_access_token(stranger, now=NOW)
    assert len(jwks.fetches) == 2
    # Known keys still work from the refetched set.
    verify_access_token(_sign(_claims()), now=NOW)
    assert len(jwks.fetches) == 2


def test_unknown_kid_right_after_first_fetch_is_throttled(jwks: FakeJwks) -> None:
    with pytest.raises(InvalidTokenError, match="key id"):
        verify_access_token(_sign(_claims(), header={"kid": "unknown", "alg": "RS256"}), now=NOW)
    assert jwks.fetches == [JWKS_URL]


def test_key_rotation_new_kid_accepted_after_one_refetch(jwks: FakeJwks) -> None:
    assert verify_access_token(_sign(_claims()), now=NOW).roles == {"officer"}
    jwks.serve(_jwk(KEY, KID), _jwk(NEW_KEY, NEW_KID))
    jwks.advance(tokens.JWKS_REFETCH_INTERVAL_SECONDS + 1)

    rotated = _sign(_claims(), key=NEW_KEY, header={"kid": NEW_KID, "alg": "RS256"})
    for _ in range(3):
        assert verify_access_token(rotated, now=NOW).areas == {"bank-more"}
    assert verify_access_token(_sign(_claims()), now=NOW).username == "officer.sharma"
    assert len(jwks.fetches) == 2


def test_new_key_with_old_kid_fails(jwks: FakeJwks) -> None:
    # A kid is only a hint: the signature must verify under the key listed for that kid.
    with pytest.raises(InvalidTokenError, match="signature"):
        verify_access_token(_sign(_claims(), key=NEW_KEY), now=NOW)


@pytest.mark.parametrize(
    "bad_jwk",
    [
        pytest.param({**_jwk(KEY, KID), "kty": "EC"}, id="not_rsa"),
        pytest.param({**_jwk(KEY, KID), "use": "enc"}, id="encryption_key"),
        pytest.param({**_jwk(KEY, KID), "alg": "RS512"}, id="other_alg"),
        pytest.param({**_jwk(KEY, KID), "n": "!!"}, id="modulus_not_base64url"),
        pytest.param({**_jwk(KEY, KID), "e": _uint(1)}, id="exponent_one"),
        pytest.param(
            {**_jwk(KEY, KID), "n": _uint((1 << 1023) | 1)},
            id="1024_bit_key",
        ),
        pytest.param({k: v for k, v in _jwk(KEY, KID).items() if k != "n"}, id="no_modulus"),
    ],
)
def test_unusable_jwks_entries_are_skipped(jwks: FakeJwks, bad_jwk: dict[str, str]) -> None:
    jwks.serve(bad_jwk, "not a key")  # type: ignore[arg-type]
    with pytest.raises(InvalidTokenError, match="key id"):
        verify_access_token(_sign(_claims()), now=NOW)


def test_jwks_without_optional_use_and_alg_is_accepted(jwks: FakeJwks) -> None:
    jwks.serve({k: v for k, v in _jwk(KEY, KID).items() if k not in ("use", "alg")})
    verify_access_token(_sign(_claims()), now=NOW)


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(None, id="404"),
        pytest.param({"no": "keys"}, id="no_keys_member"),
        pytest.param(http.HttpError("GET failed"), id="network_error"),
    ],
)
def test_unavailable_jwks_is_not_blamed_on_the_token(jwks: FakeJwks, document: Any) -> None:
    jwks.documents[JWKS_URL] = document
    with pytest.raises(KeysUnavailableError):
        verify_access_token(_sign(_claims()), now=NOW)


def test_missing_settings_are_a_configuration_error(jwks: FakeJwks, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COGNITO_CLIENT_ID")
    with pytest.raises(ConfigurationError, match="COGNITO_CLIENT_ID"):
        verify_access_token(_sign(_claims()), now=NOW)
    monkeypatch.delenv("COGNITO_ISSUER")
    with pytest.raises(ConfigurationError, match="COGNITO_ISSUER"):
        verify_access_token(_sign(_claims()), now=NOW)


# --- a real token from moto's Cognito ----------------------------------------------------------------------------


def test_access_token_issued_by_moto_cognito(jwks: FakeJwks, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    import moto
    from moto import mock_aws

    moto_jwks = Path(moto.__file__).parent / "cognitoidp" / "resources" / "jwks-public.json.gz"

    with mock_aws():
        idp = boto3.client("cognito-idp", region_name="ap-south-1")
        pool_id = idp.create_user_pool(PoolName="sampark-officers")["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id, ClientName="sampark-web", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
        )["UserPoolClient"]["ClientId"]
        idp.admin_create_user(UserPoolId=pool_id, Username="officer.sharma", MessageAction="SUPPRESS")
        idp.admin_set_user_password(
            UserPoolId=pool_id, Username="officer.sharma", Password="Correct-Horse-9", Permanent=True
        )
        for group in ("officer", "area:bank-more", "area:jharia"):
            idp.create_group(UserPoolId=pool_id, GroupName=group)
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username="officer.sharma", GroupName=group)
        result = idp.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "officer.sharma", "PASSWORD": "Correct-Horse-9"},
        )["AuthenticationResult"]
        sub = idp.admin_get_user(UserPoolId=pool_id, Username="officer.sharma")["UserAttributes"]
    access_token, id_token = result["AccessToken"], result["IdToken"]

    issuer = f"https://cognito-idp.ap-south-1.amazonaws.com/{pool_id}"
    payload = json.loads(base64.urlsafe_b64decode(access_token.split(".")[1] + "=="))
    assert payload["iss"] == issuer
    monkeypatch.setenv("COGNITO_ISSUER", issuer)
    monkeypatch.setenv("COGNITO_CLIENT_ID", client_id)
    jwks.documents[issuer + "/.well-known/jwks.json"] = json.loads(gzip.decompress(moto_jwks.read_bytes()))

    # moto stamps real time; conftest's fixed clock is unrelated to it.
    principal = verify_access_token(access_token, now=time.time())

    assert principal == Principal(
        subject=next(attribute["Value"] for attribute in sub if attribute["Name"] == "sub"),
        username="officer.sharma",
        roles=frozenset({"officer"}),
        areas=frozenset({"bank-more", "jharia"}),
    )
    # The id token from the same sign-in is signed by the same key, and must still be refused.
    with pytest.raises(InvalidTokenError, match="not an access token"):
        verify_access_token(id_token, now=time.time())
    with pytest.raises(InvalidTokenError, match="expired"):
        verify_access_token(access_token, now=float(payload["exp"]))
