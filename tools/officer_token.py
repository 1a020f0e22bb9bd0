"""`make token`: an officer's Cognito access token from the user pool that `make run` created in moto.

    python -m tools.officer_token --role officer --area bank-more
    curl -H "Authorization: Bearer $(make -s token ROLE=supervisor)" http://127.0.0.1:8000/tips

Signs in as one local user per role and areas (local-officer-bank-more, local-supervisor, …), created on first use
with a fresh password each time and put in exactly the groups of that role and those areas (``area:<id>`` groups are
created as needed). The access token is the last line of stdout; everything else goes to stderr.

The pool demands MFA, as in AWS: the first sign-in of a user enrols an authenticator (the MFA_SETUP challenge) and
later ones answer SOFTWARE_TOKEN_MFA. This tool plays the officer's authenticator app: it keeps each local user's TOTP
secret under build/local-authenticator/ and computes the RFC 6238 code, which `make run`'s moto checks.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import difflib
import hashlib
import hmac
import os
import secrets
import socket
import struct
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.areas import Area, all_areas
from shared.errors import ConfigurationError
from shared.tokens import AREA_GROUP_PREFIX, ROLES
from tools.local_stack import HOST, MotoSession
from tools.resources import LocalStack

ROLE_NAMES = ("officer", "supervisor", "admin")  # shared.tokens.ROLES, in the order they are explained
DEFAULT_MOTO_PORT = 5000
START_FIRST = "start the local system with `make run` first"
SUGGESTED_AREAS = 5
AUTHENTICATOR_DIR = Path(__file__).resolve().parent.parent / "build" / "local-authenticator"


class TokenError(Exception):
    """No token can be issued; the message says why and what to do."""


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="make token", description="An access token for a local officer.")
    parser.add_argument("--role", default="officer", help="officer, supervisor or admin (default: officer)")
    parser.add_argument("--area", action="append", default=[], help="an area id; repeat it or separate ids with commas")
    parser.add_argument("--name", default="", help="another user of the same role, e.g. a second supervisor")
    arguments = parser.parse_args(argv)
    try:
        role, areas = checked_request(arguments.role, [part for value in arguments.area for part in value.split(",")])
        token = issue_token(role, areas, moto_endpoint(environ), checked_name(arguments.name))
    except TokenError as error:
        print(f"make token: {error}", file=sys.stderr)
        return 1
    print(token)
    return 0


def checked_request(role: str, area_ids: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """The role and sorted, distinct area ids asked for; TokenError unless they are known and fit together."""
    role = role.strip().lower()
    if role not in ROLES:
        raise TokenError(f"ROLE must be one of {', '.join(ROLE_NAMES)}, not {role!r}")
    wanted = sorted({area_id.strip().lower() for area_id in area_ids if area_id.strip()})
    try:
        known = {area.id: area for area in all_areas()}
    except ConfigurationError as error:
        raise TokenError(str(error)) from None
    for area_id in wanted:
        if area_id not in known:
            raise TokenError(f"unknown area {area_id!r}; valid ids include {_suggestions(area_id, known)}")
    if role == "officer" and not wanted:
        raise TokenError(f"officers need AREA=<area id>, e.g. AREA={next(iter(known))}")
    return role, tuple(wanted)


def checked_name(name: str) -> str:
    """A second user of a role (a broadcast's approver must differ from its sender): letters, digits, hyphens."""
    name = name.strip().lower()
    if name and not (len(name) <= 20 and name.replace("-", "").isalnum() and name.isascii()):
        raise TokenError(f"NAME must be up to 20 letters, digits or hyphens, not {name!r}")
    return name


def _suggestions(area_id: str, known: Mapping[str, Area]) -> str:
    close = difflib.get_close_matches(area_id, known, n=SUGGESTED_AREAS, cutoff=0.6)
    ids = list(dict.fromkeys([*close, *known]))[:SUGGESTED_AREAS]
    return f"{', '.join(ids)} ({len(known)} in all)"


def moto_endpoint(environ: Mapping[str, str]) -> str:
    """The moto server of `make run`, at MOTO_PORT as make run uses it; TokenError if nothing listens there."""
    value = environ.get("MOTO_PORT") or str(DEFAULT_MOTO_PORT)
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise TokenError(f"MOTO_PORT={value!r} is not a port number")
    try:
        with socket.create_connection((HOST, int(value)), timeout=1):
            pass
    except OSError:
        raise TokenError(f"nothing listens on {HOST}:{value} (MOTO_PORT): {START_FIRST}") from None
    return f"http://{HOST}:{value}"


def issue_token(role: str, areas: Sequence[str], endpoint: str, name: str = "") -> str:
    """Sign in as the local user of ``role`` and ``areas`` (created or corrected first); its access token."""
    stack = LocalStack(MotoSession(endpoint))  # the stack name and the names in it are make run's
    try:
        try:
            ids = stack.find_officers_pool()
        except LookupError as error:
            raise TokenError(f"{error} in the moto server at {endpoint}: {START_FIRST}") from None
        idp = stack.session.client("cognito-idp")
        username = "-".join(("local", role, *areas, *([name] if name else [])))
        password = _password()
        with contextlib.suppress(idp.exceptions.UsernameExistsException):
            idp.admin_create_user(UserPoolId=ids.pool_id, Username=username, MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=ids.pool_id, Username=username, Password=password, Permanent=True)
        groups = _set_groups(idp, ids.pool_id, username, role, areas)
        result = idp.initiate_auth(
            ClientId=ids.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        result = _second_factor(idp, ids.client_id, username, result, AUTHENTICATOR_DIR / ids.pool_id / username)
    except (ClientError, BotoCoreError) as error:
        raise TokenError(
            f"the moto server at {endpoint} refused ({error}); is MOTO_PORT the one `make run` uses?"
        ) from None
    if "AuthenticationResult" not in result:
        raise TokenError(f"the sign-in of {username} asked for {result.get('ChallengeName')} instead of a token")
    authentication = result["AuthenticationResult"]
    minutes = authentication.get("ExpiresIn", 0) // 60
    print(f"{username} ({', '.join(groups)}): access token valid for {minutes} minutes", file=sys.stderr)
    return str(authentication["AccessToken"])


def _second_factor(
    idp: Any, client_id: str, username: str, result: dict[str, Any], secret_file: Path
) -> dict[str, Any]:
    """Answer the pool's MFA challenge as the officer's authenticator app would: enrol once, then give the code.

    https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-settings-mfa-totp.html
    """
    challenge = result.get("ChallengeName")
    if challenge == "MFA_SETUP":
        secret = idp.associate_software_token(Session=result["Session"])["SecretCode"]
        verified = idp.verify_software_token(
            Session=result["Session"], UserCode=totp(secret), FriendlyDeviceName="make token"
        )
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        secret_file.write_text(secret)
        return idp.respond_to_auth_challenge(
            ClientId=client_id,
            ChallengeName="MFA_SETUP",
            Session=verified["Session"],
            ChallengeResponses={"USERNAME": username},
        )
    if challenge is None and not secret_file.exists():
        # moto's USER_PASSWORD_AUTH skips MFA_SETUP (Cognito does not): enrol with the token it gave instead, so
        # that every later sign-in is challenged for a code, as in AWS.
        access_token = result["AuthenticationResult"]["AccessToken"]
        secret = idp.associate_software_token(AccessToken=access_token)["SecretCode"]
        idp.verify_software_token(AccessToken=access_token, UserCode=totp(secret), FriendlyDeviceName="make token")
        idp.set_user_mfa_preference(
            AccessToken=access_token, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
        )
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        secret_file.write_text(secret)
        return result
    if challenge == "SOFTWARE_TOKEN_MFA":
        if not secret_file.exists():
            raise TokenError(f"{username} enrolled an authenticator this tool does not hold ({secret_file})")
        return idp.respond_to_auth_challenge(
            ClientId=client_id,
            ChallengeName="SOFTWARE_TOKEN_MFA",
            Session=result["Session"],
            ChallengeResponses={"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": totp(secret_file.read_text())},
        )
    return result


def totp(secret: str, now: float | None = None) -> str:
    """RFC 6238 TOTP (HMAC-SHA1, 30-second steps, 6 digits) of a base32 secret: what authenticator apps show."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    step = int((time.time() if now is None else now) // 30)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def _set_groups(idp: Any, pool_id: str, username: str, role: str, areas: Sequence[str]) -> list[str]:
    """Put the user in exactly the role's group and the areas' groups, creating missing area groups."""
    names = {area.id: area.name_en for area in all_areas()}
    wanted = [role, *(AREA_GROUP_PREFIX + area_id for area_id in areas)]
    for area_id in areas:
        with contextlib.suppress(idp.exceptions.GroupExistsException):
            idp.create_group(
                UserPoolId=pool_id, GroupName=AREA_GROUP_PREFIX + area_id, Description=f"officers of {names[area_id]}"
            )
    current = {
        group["GroupName"]
        for page in idp.get_paginator("admin_list_groups_for_user").paginate(UserPoolId=pool_id, Username=username)
        for group in page["Groups"]
    }
    for group in sorted(current - set(wanted)):
        idp.admin_remove_user_from_group(UserPoolId=pool_id, Username=username, GroupName=group)
    for group in wanted:
        if group not in current:
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
    return wanted


def _password() -> str:
    """A fresh password that meets the pool's policy (12+ characters, upper and lower case, a digit, a symbol)."""
    return f"{secrets.token_urlsafe(18)}-Aa1"


if __name__ == "__main__":
    sys.exit(main())
