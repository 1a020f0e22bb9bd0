"""The texts of a notice's social posts: X's weighted length, the Hindi and English caption."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared import social
from shared.channels import x
from shared.domain import Localized, PhotoStatus, WantedDetails, WantedNotice, WantedStatus
from tools import fake_x


def notice(name: str = "Raju Mahto", crime: str = "Armed robbery") -> WantedNotice:
    return WantedNotice(
        wanted_id="w-1",
        number=42,
        details=WantedDetails(
            name=name,
            aliases=(),
            areas=("jharia",),
            crime=Localized(en=crime, hi="सशस्त्र लूट"),
            description=Localized(en="About 30", hi="लगभग 30 वर्ष"),
            reward=None,
            caution=None,
        ),
        status=WantedStatus.ACTIVE,
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
        created_by="supervisor",
        updated_at=None,
        photo_status=PhotoStatus.AWAITING_UPLOAD,
        photo_problem=None,
        photo_upload_key=None,
        photo_key=None,
        thumbnail_key=None,
        created_key="k",
    )


@pytest.mark.parametrize(
    ("text", "length"),
    [("abc", 3), ("राजू", 4), ("漢字", 4), ("🙂", 2), ("", 0)],
    ids=["latin", "devanagari", "cjk", "emoji", "empty"],
)
def test_weighted_length_counts_like_x(text, length):
    assert x.weighted_length(text) == length == fake_x.weighted_length(text)


@pytest.mark.parametrize(
    ("name", "crime"),
    [("Raju", "Robbery"), ("R" * 120, "C" * 300), ("राजू " * 30, "लूट " * 80), ("漢" * 120, "🙂" * 300)],
    ids=["short", "long-latin", "long-devanagari", "heavy-characters"],
)
def test_tweets_fit_in_280_weighted_characters_and_keep_the_number(name, crime):
    for tweet in (social.notice_tweet(notice(name, crime)), social.captured_tweet(notice(name, crime))):
        assert x.weighted_length(tweet) <= x.TWEET_MAX_WEIGHTED_LENGTH
        assert "W-0042" in tweet


def test_the_caption_has_hindi_then_english_with_the_number():
    caption = social.notice_text(notice())
    assert caption.index("वांछित W-0042: Raju Mahto") < caption.index("Wanted W-0042: Raju Mahto")
    assert "सशस्त्र लूट" in caption and "Armed robbery" in caption and "112" in caption
