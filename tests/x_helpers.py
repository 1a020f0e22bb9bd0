"""X test settings, the fake identities of tests/events/x/, and helpers to start the fake X API and post deliveries.

A privacy test scans stored items and captured logs for ``X_IDENTIFIERS``: none may appear in clear. The adapter
test checks that every user id, screen name, name and DM/tweet id found in a fixture is listed here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.channels import x
from tests.conftest import load_event

# The police account (the subscribed account: not personal data) and its app credentials.
POLICE_ID = "1582736491028374528"
POLICE_SCREEN_NAME = "DhanbadPolice"
POLICE_APP_ID = "27755543"
X_SETTINGS = {
    "X_CONSUMER_KEY": "test-x-consumer-key",
    "X_CONSUMER_SECRET": "test-x-consumer-secret",
    "X_ACCESS_TOKEN": "1582736491028374528-testAccessToken",
    "X_ACCESS_TOKEN_SECRET": "test-x-access-token-secret",
    "X_ACCOUNT_ID": POLICE_ID,
}

# Citizens.
PRIYA_ID = "1423918273645182976"
PRIYA_SCREEN_NAME = "priya_dhn"
PRIYA_NAME = "Priya Sharma"
RAHUL_ID = "3098127465"
RAHUL_SCREEN_NAME = "rahul_jharia"
RAHUL_NAME = "राहुल महतो"
ANJALI_ID = "1201928374650918273"
ANJALI_SCREEN_NAME = "anjali_bankmore"
ANJALI_NAME = "Anjali Verma"
# Another account subscribed to the same app, and a citizen writing to it (other_account.json).
OTHER_ACCOUNT_ID = "1610384756102938475"
OTHER_ACCOUNT_SCREEN_NAME = "DhanbadTraffic"
MANOJ_ID = "1357924680135792468"
MANOJ_SCREEN_NAME = "manoj_sindri"
MANOJ_NAME = "Manoj Rajak"

# Direct message ids.
DM_TEXT = "1862004410000000001"
DM_HINDI = "1862004410000000002"
DM_PHOTO = "1862004410000000003"
DM_PHOTO_MEDIA = "1862004409990000003"
DM_LOCATION = "1862004410000000004"
DM_OWN_ECHO = "1862004410000000005"
DM_OTHER_ACCOUNT = "1862004410000000006"
DM_BATCH_PRIYA_1 = "1862004410000000011"
DM_BATCH_RAHUL_1 = "1862004410000000012"
DM_BATCH_PRIYA_2 = "1862004410000000013"
DM_BATCH_RAHUL_2 = "1862004410000000014"
DM_BATCH_OWN_ECHO = "1862004410000000015"
DM_READ = "1862004410000000016"

# Tweet ids.
TWEET_MENTION_TEXT = "1862004420000000001"
TWEET_MENTION_PHOTO = "1862004420000000002"
TWEET_MENTION_PHOTO_MEDIA = "1862004419990000002"
TWEET_MENTION_COORDINATES = "1862004420000000003"
TWEET_OWN = "1862004420000000004"
TWEET_RETWEET = "1862004420000000005"
TWEET_FAVORITED = "1862004420000000006"

# The ids and names that belong to people or their messages (the police account's own are not personal data).
X_IDENTIFIERS = (
    PRIYA_ID,
    PRIYA_SCREEN_NAME,
    PRIYA_NAME,
    RAHUL_ID,
    RAHUL_SCREEN_NAME,
    RAHUL_NAME,
    ANJALI_ID,
    ANJALI_SCREEN_NAME,
    ANJALI_NAME,
    MANOJ_ID,
    MANOJ_SCREEN_NAME,
    MANOJ_NAME,
    DM_TEXT,
    DM_HINDI,
    DM_PHOTO,
    DM_PHOTO_MEDIA,
    DM_LOCATION,
    DM_OWN_ECHO,
    DM_OTHER_ACCOUNT,
    DM_BATCH_PRIYA_1,
    DM_BATCH_RAHUL_1,
    DM_BATCH_PRIYA_2,
    DM_BATCH_RAHUL_2,
    DM_BATCH_OWN_ECHO,
    DM_READ,
    TWEET_MENTION_TEXT,
    TWEET_MENTION_PHOTO,
    TWEET_MENTION_PHOTO_MEDIA,
    TWEET_MENTION_COORDINATES,
    TWEET_OWN,
    TWEET_RETWEET,
    TWEET_FAVORITED,
)
# Identifiers of accounts, not people; listed so that the fixture check knows every id it meets.
ACCOUNT_IDENTIFIERS = (POLICE_ID, POLICE_SCREEN_NAME, POLICE_APP_ID, OTHER_ACCOUNT_ID, OTHER_ACCOUNT_SCREEN_NAME)

# Where the fixtures point at X's media hosts; the functional tests point these at the fake X API instead.
MEDIA_ORIGINS = ("https://ton.twitter.com", "https://pbs.twimg.com", "https://video.twimg.com")


def use_x_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in X_SETTINGS.items():
        monkeypatch.setenv(name, value)


def start_fake_x(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Start the fake X API with the test credentials and point X_API_URL at it (use inside a fixture)."""
    from tools.fake_x import FakeXServer

    server = FakeXServer(
        consumer_key=X_SETTINGS["X_CONSUMER_KEY"],
        consumer_secret=X_SETTINGS["X_CONSUMER_SECRET"],
        access_token=X_SETTINGS["X_ACCESS_TOKEN"],
        access_token_secret=X_SETTINGS["X_ACCESS_TOKEN_SECRET"],
        account_id=X_SETTINGS["X_ACCOUNT_ID"],
    ).start()
    monkeypatch.setenv("X_API_URL", server.base_url)
    try:
        yield server
    finally:
        server.stop()


def to_fake_media(raw: bytes, fake_x: Any) -> bytes:
    """The delivery with every X media URL pointing at the fake X API (same path, the fake's origin)."""
    for origin in MEDIA_ORIGINS:
        raw = raw.replace(origin.encode(), fake_x.base_url.encode())
    return raw


def post_x(api: Any, body: bytes | str, fake_x: Any | None = None) -> Any:
    """POST a delivery signed like X signs it; ``body`` is raw bytes or a fixture name of tests/events/x/."""
    raw = load_event("x", body) if isinstance(body, str) else body
    if fake_x is not None:
        raw = to_fake_media(raw, fake_x)
    return api.http.post(
        "/webhooks/x",
        headers={"Content-Type": "application/json", x.SIGNATURE_HEADER: x.sign(raw)},
        body=raw,
    )
