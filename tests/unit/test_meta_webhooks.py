"""Meta's subscription handshake and X-Hub-Signature-256, as WhatsApp and Messenger use them."""

from __future__ import annotations

import hashlib
import hmac
import json
from unittest import mock

import pytest

from shared.channels import meta
from shared.errors import HandshakeRejectedError, InvalidSignatureError
from tests.conftest import TEST_SETTINGS, load_event

VERIFY_TOKEN = TEST_SETTINGS["META_VERIFY_TOKEN"]
APP_SECRET = TEST_SETTINGS["META_APP_SECRET"]

BODY = b'{"object":"whatsapp_business_account","entry":[]}'
# HMAC-SHA256("test-app-secret", BODY), computed once outside the code under test.
BODY_DIGEST = "c84a394cc475525991e78ff16e430b02e47f953877d2af0ade26956ce6f384dc"


def _query(**overrides: str | None) -> dict[str, str]:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    query.update(overrides)
    return {key: value for key, value in query.items() if value is not None}


# --- handshake ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("challenge"),
    [
        pytest.param("1158201444", id="meta_numeric"),
        pytest.param("a1B2c3", id="alphanumeric"),
        pytest.param("9" * 128, id="longest_allowed"),
    ],
)
def test_handshake_with_right_token_returns_the_challenge(challenge: str) -> None:
    assert meta.verify_subscription(_query(**{"hub.challenge": challenge})) == challenge


@pytest.mark.parametrize(
    "query",
    [
        pytest.param(_query(**{"hub.verify_token": "wrong-token"}), id="wrong_token"),
        pytest.param(_query(**{"hub.verify_token": VERIFY_TOKEN[:-1]}), id="token_prefix"),
        pytest.param(_query(**{"hub.verify_token": VERIFY_TOKEN + "x"}), id="token_longer"),
        pytest.param(_query(**{"hub.verify_token": VERIFY_TOKEN.upper()}), id="token_other_case"),
        pytest.param(_query(**{"hub.verify_token": ""}), id="token_empty"),
        pytest.param(_query(**{"hub.verify_token": None}), id="token_missing"),
        pytest.param(_query(**{"hub.verify_token": "टोकन"}), id="token_non_ascii"),
        pytest.param(_query(**{"hub.mode": "unsubscribe"}), id="wrong_mode"),
        pytest.param(_query(**{"hub.mode": "Subscribe"}), id="mode_other_case"),
        pytest.param(_query(**{"hub.mode": None}), id="mode_missing"),
        pytest.param(_query(**{"hub.challenge": None}), id="challenge_missing"),
        pytest.param(_query(**{"hub.challenge": ""}), id="challenge_empty"),
        pytest.param(_query(**{"hub.challenge": "9" * 129}), id="challenge_overlong"),
        pytest.param(_query(**{"hub.challenge": "<script>alert(1)</script>"}), id="challenge_html"),
        pytest.param(_query(**{"hub.challenge": "1158 201444"}), id="challenge_space"),
        pytest.param(_query(**{"hub.challenge": "abc-def"}), id="challenge_punctuation"),
        pytest.param(_query(**{"hub.challenge": "११५८२०१४४४"}), id="challenge_devanagari_digits"),
        pytest.param({}, id="empty_query"),
    ],
)
def test_handshake_rejections(query: dict[str, str]) -> None:
    with pytest.raises(HandshakeRejectedError):
        meta.verify_subscription(query)


# --- signature: vectors ---------------------------------------------------------------------------------------


def test_sign_matches_a_precomputed_vector() -> None:
    # GIVEN the digest computed by hand here and the literal computed once outside the code
    by_hand = hmac.new(APP_SECRET.encode(), BODY, hashlib.sha256).hexdigest()

    # THEN both agree with sign()
    assert by_hand == BODY_DIGEST
    assert meta.sign(BODY) == "sha256=" + BODY_DIGEST


def test_sign_matches_the_published_github_vector() -> None:
    # GitHub documents this HMAC-SHA256 webhook vector; Meta uses the same construction, in hex.
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert meta.sign(b"Hello, World!", app_secret="It's a Secret to Everybody") == expected


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("sha256=" + BODY_DIGEST, id="lowercase"),
        pytest.param("sha256=" + BODY_DIGEST.upper(), id="uppercase_hex"),
    ],
)
def test_valid_signature_passes(header: str) -> None:
    assert meta.verify_signature(BODY, header) is None


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param(BODY_DIGEST, id="no_prefix"),
        pytest.param("sha1=" + hmac.new(APP_SECRET.encode(), BODY, hashlib.sha1).hexdigest(), id="sha1_header"),
        pytest.param("SHA256=" + BODY_DIGEST, id="prefix_other_case"),
        pytest.param("sha256=", id="prefix_only"),
        pytest.param("sha256=" + BODY_DIGEST[:-1], id="one_char_short"),
        pytest.param("sha256=" + BODY_DIGEST + "0", id="one_char_long"),
        pytest.param("sha256=" + BODY_DIGEST[:32], id="half_length"),
        pytest.param("sha256=" + BODY_DIGEST[:-1] + ("0" if BODY_DIGEST[-1] != "0" else "1"), id="last_char_wrong"),
        pytest.param("sha256=" + "z" * 64, id="not_hex"),
        pytest.param("sha256=" + "é" * 64, id="non_ascii"),
        pytest.param(meta.sign(BODY, app_secret="another-app-secret"), id="other_secret"),
        pytest.param(meta.sign(BODY + b" "), id="other_body"),
    ],
)
def test_bad_signature_is_rejected(header: str | None) -> None:
    with pytest.raises(InvalidSignatureError):
        meta.verify_signature(BODY, header)


# --- signature: raw bytes, not re-serialised JSON -------------------------------------------------------------

HINDI = load_event("whatsapp", "text_hindi")
REASONS_TO_FAIL = [
    pytest.param(json.dumps(json.loads(HINDI)).encode(), id="json_dumps_default"),
    pytest.param(json.dumps(json.loads(HINDI), separators=(",", ":")).encode(), id="json_dumps_compact"),
    pytest.param(json.dumps(json.loads(HINDI), ensure_ascii=False).encode(), id="json_dumps_ensure_ascii_false"),
]


def test_hindi_fixture_verifies_over_its_raw_bytes() -> None:
    assert meta.verify_signature(HINDI, meta.sign(HINDI)) is None


def test_compact_reserialisation_differs_from_the_wire_only_by_escaped_slashes() -> None:
    # The subtle case: same separators, same \uXXXX escapes; only Meta's "\/" is lost.
    reserialised = json.dumps(json.loads(HINDI), separators=(",", ":")).encode()
    assert reserialised != HINDI
    assert reserialised == HINDI.replace(b"\\/", b"/")


@pytest.mark.parametrize("reserialised", REASONS_TO_FAIL)
def test_signature_over_reserialised_json_does_not_verify(reserialised: bytes) -> None:
    # GIVEN the same document, re-serialised by Python
    assert json.loads(reserialised) == json.loads(HINDI)

    # THEN a signature computed over the re-serialised text does not match Meta's raw bytes
    with pytest.raises(InvalidSignatureError):
        meta.verify_signature(HINDI, meta.sign(reserialised))
    # AND Meta's signature does not match a body that a proxy re-serialised
    with pytest.raises(InvalidSignatureError):
        meta.verify_signature(reserialised, meta.sign(HINDI))


# --- constant-time comparisons --------------------------------------------------------------------------------


def test_handshake_token_is_compared_with_compare_digest() -> None:
    with mock.patch("shared.channels.meta.hmac.compare_digest", wraps=hmac.compare_digest) as spy:
        assert meta.verify_subscription(_query()) == "1158201444"
    assert spy.call_count == 1


def test_handshake_token_of_other_length_is_compared_without_raising() -> None:
    with (
        mock.patch("shared.channels.meta.hmac.compare_digest", wraps=hmac.compare_digest) as spy,
        pytest.raises(HandshakeRejectedError),
    ):
        meta.verify_subscription(_query(**{"hub.verify_token": "x"}))
    [(left, right)] = [call.args for call in spy.call_args_list]
    assert len(left) != len(right)


def test_signature_is_compared_with_compare_digest() -> None:
    with mock.patch("shared.channels.meta.hmac.compare_digest", wraps=hmac.compare_digest) as spy:
        meta.verify_signature(BODY, "sha256=" + BODY_DIGEST)
    assert spy.call_count == 1


@pytest.mark.parametrize("digest", ["ab", BODY_DIGEST * 2, "é" * 3])
def test_signature_of_other_length_is_compared_without_raising(digest: str) -> None:
    # WHEN the received digest is shorter or longer than a SHA-256 hex digest
    with (
        mock.patch("shared.channels.meta.hmac.compare_digest", wraps=hmac.compare_digest) as spy,
        pytest.raises(InvalidSignatureError),
    ):
        meta.verify_signature(BODY, "sha256=" + digest)

    # THEN compare_digest saw both, of unequal lengths, and only the domain error came out
    [(received, expected)] = [call.args for call in spy.call_args_list]
    assert len(received) != len(expected)
