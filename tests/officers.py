"""Officers in tests: Cognito-shaped access tokens signed by a test key, and an API client that checks every answer.

The tokens are built like Cognito's (https://docs.aws.amazon.com/cognito/latest/developerguide/
amazon-cognito-user-pools-using-the-access-token.html) and signed with `cryptography`, independent of the
pure-Python verifier under test. The pool's JWKS is served to the app through ``shared.http.request``; every other
request passes through untouched. (moto's own Cognito issues tokens too, but stamps them with the real time, while
the app's clock is fixed in tests; tests/functional/test_local_officer_token.py covers those.)
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from shared import clock, http
from tests.conftest import FIXED_NOW

ISSUER = "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_SamparkTest"
CLIENT_ID = "5t1pqsamparktestclient0001"
JWKS_URL = ISSUER + "/.well-known/jwks.json"
KID = "sampark-test-key"
_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)

# A signed-in user of each kind, by Cognito groups.
OFFICER_SARAIDHELA = ("officer", "area:saraidhela")
OFFICER_JHARIA = ("officer", "area:jharia")
SUPERVISOR = ("supervisor",)
ADMIN = ("admin",)
NO_ROLE = ("area:saraidhela",)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def jwks() -> dict[str, Any]:
    numbers = _KEY.public_key().public_numbers()
    key = {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": KID, "n": _uint(numbers.n), "e": _uint(numbers.e)}
    return {"keys": [key]}


def token(*groups: str, username: str | None = None, key: rsa.RSAPrivateKey = _KEY, **overrides: Any) -> str:
    """An access token for a user in ``groups``; ``overrides`` replace claims (None removes one)."""
    now = int(clock.now().timestamp())  # the app's clock, which tests fix and move
    claims: dict[str, Any] = {
        "sub": f"sub-{username or '-'.join(groups)}",
        "cognito:groups": list(groups),
        "iss": ISSUER,
        "client_id": CLIENT_ID,
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": now - 60,
        "iat": now - 60,
        "exp": now + 3600,
        "jti": "00000000-0000-0000-0000-000000000001",
        "username": username or "officer-" + "-".join(group.replace(":", "_") for group in groups),
    }
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    header = {"kid": KID, "alg": "RS256"}
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def bearer(*groups: str, **overrides: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(*groups, **overrides)}"}


# Every way a request can fail to be signed in; each must answer 401.
UNSIGNED_HEADERS: dict[str, dict[str, str]] = {
    "no_token": {},
    "not_bearer": {"Authorization": "Basic b2ZmaWNlcjpwYXNzd29yZA=="},
    "empty_bearer": {"Authorization": "Bearer "},
    "garbage": {"Authorization": "Bearer not.a.jwt"},
    "expired": bearer(*SUPERVISOR, iat=int(FIXED_NOW.timestamp()) - 3601, exp=int(FIXED_NOW.timestamp()) - 1),
    "wrong_signature": bearer(*SUPERVISOR, key=_OTHER_KEY),
    "wrong_client": bearer(*SUPERVISOR, client_id="someoneelsesclient"),
    "wrong_issuer": bearer(*SUPERVISOR, iss="https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_Other"),
    "id_token": bearer(*SUPERVISOR, token_use="id", client_id=None, aud=CLIENT_ID),
}


def serve_jwks(monkeypatch: Any) -> None:
    """Point the app at the test pool and answer its JWKS fetch; other HTTP requests go through."""
    from shared import tokens

    monkeypatch.setenv("COGNITO_ISSUER", ISSUER)
    monkeypatch.setenv("COGNITO_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("COGNITO_JWKS_URL", JWKS_URL)
    real_request = http.request

    def request(method: str, url: str, **kwargs: Any) -> http.HttpResponse:
        if url == JWKS_URL:
            return http.HttpResponse(200, json.dumps(jwks()).encode(), {"Content-Type": "application/json"})
        return real_request(method, url, **kwargs)

    monkeypatch.setattr(http, "request", request)
    tokens.reset()


class CheckedClient:
    """Chalice's test client, keeping every answer so that a test can scan them all for informants' identifiers."""

    def __init__(self, client: Any) -> None:
        self._http = client.http
        self.bodies: list[str] = []

    def request(self, method: str, path: str, *, groups: tuple[str, ...] | None = None, body: Any = None, headers=None):
        all_headers = dict(headers or {})
        if groups is not None:
            all_headers.update(bearer(*groups))
        if body is not None:
            all_headers.setdefault("Content-Type", "application/json")
        raw = body if isinstance(body, bytes | str) or body is None else json.dumps(body)
        response = getattr(self._http, method.lower())(path, headers=all_headers, body=raw or b"")
        self.bodies.append(response.body.decode() if isinstance(response.body, bytes) else str(response.body))
        return response

    def get(self, path: str, **kwargs: Any):
        return self.request("GET", path, **kwargs)

    def patch(self, path: str, **kwargs: Any):
        return self.request("PATCH", path, **kwargs)

    def post(self, path: str, **kwargs: Any):
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any):
        return self.request("DELETE", path, **kwargs)


def json_of(response: Any) -> Any:
    return json.loads(response.body)
