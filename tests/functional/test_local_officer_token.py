"""`make token` against a real moto server: the stack as `make run` creates it, tokens the app's verifier accepts.

The JWKS is fetched over real HTTP from the moto server, as `chalice local` does under `make run`.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from shared import config, tokens
from shared.tokens import Principal, verify_access_token
from tools import officer_token
from tools.local_stack import HOST, MotoSession
from tools.resources import LocalStack

TOTP_CHECKS = "MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP"


@dataclass(frozen=True)
class MotoStack:
    endpoint: str
    port: int
    stack: LocalStack


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def moto_stack() -> Iterator[MotoStack]:
    """A moto server on 127.0.0.1 holding the resources of infra/resources.json, as `make run` starts it."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    checks_codes = os.environ.get(TOTP_CHECKS)
    os.environ[TOTP_CHECKS] = "true"  # as make run does: moto checks the authenticator codes
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://{HOST}:{port}"
        stack = LocalStack(MotoSession(endpoint))
        stack.create_all()
        yield MotoStack(endpoint=endpoint, port=port, stack=stack)
    finally:
        server.stop()
        if checks_codes is None:
            os.environ.pop(TOTP_CHECKS, None)
        else:
            os.environ[TOTP_CHECKS] = checks_codes


@pytest.fixture(autouse=True)
def authenticator(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """The local users' TOTP secrets, as an officer's authenticator app holds them: kept out of build/."""
    monkeypatch.setattr(officer_token, "AUTHENTICATOR_DIR", tmp_path / "authenticator")
    return tmp_path / "authenticator"


@pytest.fixture
def local_cognito(moto_stack: MotoStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The app's COGNITO_* settings under `make run`."""
    settings = moto_stack.stack.local_cognito_settings(moto_stack.endpoint)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    config.reset()
    tokens.reset()
    yield settings
    tokens.reset()
    config.reset()


def _run(capsys: pytest.CaptureFixture[str], port: int, *arguments: str) -> tuple[int, str, str]:
    status = officer_token.main(list(arguments), environ={"MOTO_PORT": str(port)})
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _claims(token: str) -> dict[str, object]:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


@pytest.mark.parametrize(
    ("arguments", "username", "roles", "areas"),
    [
        pytest.param(
            ("--role", "officer", "--area", "bank-more"), "local-officer-bank-more", {"officer"}, {"bank-more"}
        ),
        pytest.param(
            ("--role", "officer", "--area", "jharia,bank-more"),
            "local-officer-bank-more-jharia",
            {"officer"},
            {"bank-more", "jharia"},
            id="officer-two-areas",
        ),
        pytest.param(("--role", "supervisor"), "local-supervisor", {"supervisor"}, set(), id="supervisor"),
        pytest.param(("--role", "admin"), "local-admin", {"admin"}, set(), id="admin"),
        pytest.param(("--role", "admin", "--area", "dhansar"), "local-admin-dhansar", {"admin"}, {"dhansar"}),
    ],
)
def test_token_is_accepted_by_the_apps_verifier(
    moto_stack: MotoStack,
    local_cognito: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    arguments: tuple[str, ...],
    username: str,
    roles: set[str],
    areas: set[str],
) -> None:
    # GIVEN the stack `make run` creates, and the app's settings for it
    # WHEN a token is asked for
    status, out, err = _run(capsys, moto_stack.port, *arguments)

    # THEN the token is the only line of stdout, and the app accepts it (moto stamps real time, not the fixed clock)
    assert status == 0, err
    token = out.splitlines()[-1]
    assert out == token + "\n"
    assert username in err
    assert _claims(token)["iss"] == local_cognito["COGNITO_ISSUER"]
    principal = verify_access_token(token, now=time.time())
    assert principal.username == username
    assert (principal.roles, principal.areas) == (frozenset(roles), frozenset(areas))
    assert list(tokens._jwks_cache) == [local_cognito["COGNITO_JWKS_URL"]]  # fetched from the moto server


def test_local_settings_are_the_issuer_moto_stamps_and_the_keys_it_serves(moto_stack: MotoStack) -> None:
    pool = moto_stack.stack.officers_pool()

    settings = moto_stack.stack.local_cognito_settings(moto_stack.endpoint)

    # moto stamps Cognito's own issuer (the template's value), but serves the keys itself
    assert settings == {
        "COGNITO_ISSUER": f"https://cognito-idp.ap-south-1.amazonaws.com/{pool.pool_id}",
        "COGNITO_CLIENT_ID": pool.client_id,
        "COGNITO_JWKS_URL": f"{moto_stack.endpoint}/{pool.pool_id}/.well-known/jwks.json",
    }
    assert moto_stack.stack.environment()["COGNITO_ISSUER"] == settings["COGNITO_ISSUER"]


def test_the_same_user_again_gets_a_token_with_exactly_its_groups(
    moto_stack: MotoStack, local_cognito: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an officer signed in once, then put in another role's group by hand
    assert _run(capsys, moto_stack.port, "--role", "officer", "--area", "putki")[0] == 0
    pool = moto_stack.stack.officers_pool()
    idp = moto_stack.stack.session.client("cognito-idp")
    idp.admin_add_user_to_group(UserPoolId=pool.pool_id, Username="local-officer-putki", GroupName="admin")

    # WHEN the same token is asked for again
    status, out, err = _run(capsys, moto_stack.port, "--role", "officer", "--area", "putki")

    # THEN the same user signs in, with the officer's groups only
    assert status == 0, err
    principal = verify_access_token(out.splitlines()[-1], now=time.time())
    assert principal == Principal(
        subject=principal.subject,
        username="local-officer-putki",
        roles=frozenset({"officer"}),
        areas=frozenset({"putki"}),
    )
    users = idp.list_users(UserPoolId=pool.pool_id, Filter='username = "local-officer-putki"')["Users"]
    assert len(users) == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(("--role", "officer"), "officers need AREA=<area id>", id="officer-without-area"),
        pytest.param(
            ("--role", "officer", "--area", "bank-mor"),
            "unknown area 'bank-mor'; valid ids include bank-more",
            id="unknown-area",
        ),
        pytest.param(("--role", "superintendent"), "ROLE must be one of officer, supervisor, admin", id="bad-role"),
        pytest.param(("--role", ""), "ROLE must be one of officer, supervisor, admin", id="empty-role"),
    ],
)
def test_error_on_a_request_that_names_no_valid_user(
    moto_stack: MotoStack, capsys: pytest.CaptureFixture[str], arguments: tuple[str, ...], message: str
) -> None:
    status, out, err = _run(capsys, moto_stack.port, *arguments)

    assert status == 1
    assert out == ""
    assert message in err


def test_error_when_make_run_is_not_running(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN nothing listening on the port
    port = _free_port()

    # WHEN a token is asked for
    status, out, err = _run(capsys, port, "--role", "supervisor")

    # THEN it says what to do
    assert status == 1
    assert out == ""
    assert f"nothing listens on 127.0.0.1:{port}" in err
    assert "start the local system with `make run` first" in err


@pytest.mark.parametrize(
    ("name", "accepted"),
    [("", True), ("second", True), ("duty-2", True), ("a b", False), ("x" * 21, False), ("ड", False)],
)
def test_a_second_user_of_a_role_has_a_plain_name(name, accepted):
    from tools.officer_token import TokenError, checked_name

    if accepted:
        assert checked_name(name) == name
    else:
        with pytest.raises(TokenError, match="NAME"):
            checked_name(name)


def test_officers_must_sign_in_with_an_authenticator_code(moto_stack: MotoStack) -> None:
    ids = moto_stack.stack.find_officers_pool()
    idp = moto_stack.stack.session.client("cognito-idp")
    assert idp.get_user_pool_mfa_config(UserPoolId=ids.pool_id)["MfaConfiguration"] == "ON"


def test_first_sign_in_enrols_an_authenticator_and_later_ones_answer_with_its_code(
    moto_stack: MotoStack, authenticator, capsys: pytest.CaptureFixture[str]
) -> None:
    status, first, _ = _run(capsys, moto_stack.port, "--role", "supervisor", "--name", "mfa")
    ids = moto_stack.stack.find_officers_pool()
    secret_file = authenticator / ids.pool_id / "local-supervisor-mfa"
    assert status == 0 and secret_file.read_text()
    status, second, _ = _run(capsys, moto_stack.port, "--role", "supervisor", "--name", "mfa")
    assert status == 0 and second.strip() != first.strip()
    # A wrong code is refused: moto checks the codes, as Cognito does.
    idp = moto_stack.stack.session.client("cognito-idp")
    password = "Wrong-Code-Check-1a"
    idp.admin_set_user_password(
        UserPoolId=ids.pool_id, Username="local-supervisor-mfa", Password=password, Permanent=True
    )
    challenge = idp.initiate_auth(
        ClientId=ids.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "local-supervisor-mfa", "PASSWORD": password},
    )
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    wrong = f"{(int(officer_token.totp(secret_file.read_text())) + 1) % 1_000_000:06d}"
    with pytest.raises(idp.exceptions.CodeMismatchException):
        idp.respond_to_auth_challenge(
            ClientId=ids.client_id,
            ChallengeName="SOFTWARE_TOKEN_MFA",
            Session=challenge["Session"],
            ChallengeResponses={"USERNAME": "local-supervisor-mfa", "SOFTWARE_TOKEN_MFA_CODE": wrong},
        )


@pytest.mark.parametrize(
    ("now", "code"),
    [(59, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")],
)
def test_authenticator_codes_are_rfc_6238(now: int, code: str) -> None:
    # RFC 6238 appendix B, SHA-1 vectors (8 digits there; authenticator apps and Cognito show the last 6).
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert officer_token.totp(secret, now=now) == code
