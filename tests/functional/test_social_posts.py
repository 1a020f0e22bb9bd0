"""Wanted notices on the police Facebook Page and X account, on moto and the fake platforms: a sent broadcast of a
notice becomes one Page photo post and one tweet (SNS broadcast-events topic -> social-posts queue -> post_to_social),
recorded with their ids; redeliveries post nothing more; refusals are recorded, transient failures retried; a capture
is followed by one "captured" post per platform."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from shared import social
from shared.errors import SocialPostUnavailableError
from tests.conftest import EVENTS
from tests.functional.test_broadcasts import TEMPLATE_IDS, notice_body, send
from tests.functional.test_broadcasts import supervisor as supervisor  # the fixture
from tests.functional.test_wanted import create, jpeg_with_gps, upload
from tests.officers import SUPERVISOR, json_of
from tests.x_helpers import X_SETTINGS, start_fake_x, use_x_settings
from tools.fake_x import weighted_length

PAGE_ID = "100000000000077"
PAGE_TOKEN = "test-page-access-token"


@pytest.fixture
def graph(fake_graph: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MESSENGER_PAGE_ID", PAGE_ID)
    monkeypatch.setenv("MESSENGER_PAGE_ACCESS_TOKEN", PAGE_TOKEN)
    fake_graph.set_page_access_token(PAGE_TOKEN)
    return fake_graph


@pytest.fixture
def fake_x(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    use_x_settings(monkeypatch)
    yield from start_fake_x(monkeypatch)


@pytest.fixture
def platforms(graph: Any, fake_x: Any) -> tuple[Any, Any]:
    return graph, fake_x


def event(name: str, wanted_id: str) -> dict[str, Any]:
    """tests/events/social/<name>.json for the notice (the payload the broadcast-events topic carries, raw)."""
    return json.loads((EVENTS / "social" / f"{name}.json").read_text().replace("<wanted_id>", wanted_id))


def with_photo(supervisor: Any, aws: Any, dispatcher: Any) -> dict[str, Any]:
    notice = create(supervisor)
    upload(aws, dispatcher, notice, jpeg_with_gps())
    return json_of(supervisor.get(f"/wanted/{notice['id']}", groups=SUPERVISOR))


def broadcast(
    supervisor: Any, dispatcher: Any, notice: dict[str, Any], key: str = "key-1", areas: tuple[str, ...] = ("jharia",)
) -> dict[str, Any]:
    response = send(supervisor, notice_body(notice, areas=list(areas), languages=["en"], channels=["sms"]), key=key)
    assert response.status_code == 202, response.body
    dispatcher.drain()
    return json_of(supervisor.get(f"/broadcasts/{json_of(response)['id']}", groups=SUPERVISOR))


def posts_by(record: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(post["platform"], post["kind"]): post for post in record["social_posts"]}


def test_a_sent_broadcast_of_a_notice_posts_its_photo_on_the_page_and_one_tweet(supervisor, aws, dispatcher, platforms):
    graph, fake_x = platforms
    # GIVEN a notice with its published photo
    notice = with_photo(supervisor, aws, dispatcher)

    # WHEN a broadcast of it is sent
    record = broadcast(supervisor, dispatcher, notice)

    # THEN one photo post on the Page and one tweet, each recorded with its id
    [page_post] = graph.page_posts
    assert (page_post["page_id"], page_post["edge"]) == (PAGE_ID, "photos")
    assert page_post["payload"]["url"] == notice["photo_url"]
    caption = page_post["payload"]["caption"]
    assert "वांछित W-0001" in caption and "Wanted W-0001: Raju 'Kalia' Mahto" in caption
    assert "कोयला व्यापारी से सशस्त्र लूट" in caption and "Armed robbery of a coal trader" in caption
    assert PAGE_TOKEN not in page_post["query"]  # the token travels in the header only
    [tweet] = fake_x.tweets
    assert "W-0001" in tweet["payload"]["text"] and "reply" not in tweet["payload"]
    assert weighted_length(tweet["payload"]["text"]) <= 280
    posts = posts_by(record)
    assert set(posts) == {("facebook", "notice"), ("x", "notice")}
    assert posts[("facebook", "notice")] | {"posted_at": None} == {
        "platform": "facebook",
        "kind": "notice",
        "status": "posted",
        "post_id": page_post["id"],
        "problem": None,
        "broadcast_id": record["id"],
        "posted_at": None,
    }
    assert posts[("x", "notice")]["post_id"] == tweet["id"] and posts[("x", "notice")]["status"] == "posted"
    # The supervisor's view of the notice shows them too.
    shown = json_of(supervisor.get(f"/wanted/{notice['id']}", groups=SUPERVISOR))
    assert {(p["platform"], p["post_id"]) for p in shown["social_posts"]} == {
        ("facebook", page_post["id"]),
        ("x", tweet["id"]),
    }


def test_redelivered_events_and_a_second_broadcast_post_nothing_more(supervisor, aws, dispatcher, platforms):
    graph, fake_x = platforms
    notice = with_photo(supervisor, aws, dispatcher)
    first = broadcast(supervisor, dispatcher, notice)

    # WHEN SQS delivers the event again, and the notice is broadcast once more to another area
    outcomes = social.handle(event("broadcast_sent", notice["id"]))
    second = broadcast(supervisor, dispatcher, notice, key="key-2", areas=("sindri",))

    # THEN nothing more is posted
    assert outcomes == {"facebook": "already_posted", "x": "already_posted"}
    assert len(graph.page_posts) == 1 and len(fake_x.tweets) == 1
    assert posts_by(second) == posts_by(first)  # the notice's posts, made by the first broadcast


def test_a_notice_without_a_published_photo_is_posted_as_text(supervisor, dispatcher, platforms):
    graph, _ = platforms
    notice = create(supervisor)

    broadcast(supervisor, dispatcher, notice)

    [page_post] = graph.page_posts
    assert page_post["edge"] == "feed" and "Wanted W-0001" in page_post["payload"]["message"]


REFUSALS = [
    pytest.param(
        "facebook", lambda graph, fake_x: graph.reject_next(f"/v25.0/{PAGE_ID}/photos", 400, 100), id="graph-400"
    ),
    pytest.param(
        "facebook",
        lambda graph, fake_x: graph.reject_next(f"/v25.0/{PAGE_ID}/photos", 403, 200),
        id="graph-no-permission",
    ),
    pytest.param("x", lambda graph, fake_x: fake_x.fail_next("/2/tweets", 403), id="x-403-duplicate"),
    pytest.param("x", lambda graph, fake_x: fake_x.fail_next("/2/tweets", 400), id="x-400"),
]


@pytest.mark.parametrize(("platform", "refuse"), REFUSALS)
def test_a_permanent_refusal_is_recorded_as_failed_and_not_retried(
    supervisor, aws, dispatcher, platforms, platform, refuse
):
    graph, fake_x = platforms
    notice = with_photo(supervisor, aws, dispatcher)
    refuse(graph, fake_x)

    record = broadcast(supervisor, dispatcher, notice)
    again = social.handle(event("broadcast_sent", notice["id"]))

    posts = posts_by(record)
    assert posts[(platform, "notice")]["status"] == "failed"
    assert "answered 4" in posts[(platform, "notice")]["problem"]
    other = "x" if platform == "facebook" else "facebook"
    assert posts[(other, "notice")]["status"] == "posted"
    assert again == {platform: "already_failed", other: "already_posted"}
    assert len(graph.page_posts) + len(fake_x.tweets) == 1


TRANSIENT = [
    pytest.param(
        "facebook", lambda graph, fake_x, mp: graph.fail_next(f"/v25.0/{PAGE_ID}/photos", 503), id="graph-503"
    ),
    pytest.param(
        "facebook",
        lambda graph, fake_x, mp: graph.reject_next(f"/v25.0/{PAGE_ID}/photos", 400, 4),
        id="graph-throttled",
    ),
    pytest.param("x", lambda graph, fake_x, mp: fake_x.fail_next("/2/tweets", 429), id="x-429"),
    pytest.param("x", lambda graph, fake_x, mp: fake_x.fail_next("/2/tweets", 500), id="x-500"),
    pytest.param("x", lambda graph, fake_x, mp: mp.setenv("X_API_URL", "http://127.0.0.1:9"), id="x-no-answer"),
]


@pytest.mark.parametrize(("platform", "fail"), TRANSIENT)
def test_a_transient_failure_is_retried_and_posts_once(
    supervisor, aws, dispatcher, platforms, platform, fail, monkeypatch
):
    graph, fake_x = platforms
    notice = with_photo(supervisor, aws, dispatcher)
    x_api_url = fake_x.base_url
    fail(graph, fake_x, monkeypatch)

    # WHEN the event fails on one platform (the queue will deliver it again)
    record = broadcast(supervisor, dispatcher, notice)
    posts = posts_by(record)
    assert posts[(platform, "notice")]["status"] == "claimed" and posts[(platform, "notice")]["problem"]
    monkeypatch.setenv("X_API_URL", x_api_url)

    # THEN the redelivery posts there, and only there
    outcomes = social.handle(event("broadcast_sent", notice["id"]))
    other = "x" if platform == "facebook" else "facebook"
    assert outcomes == {platform: "posted", other: "already_posted"}
    assert len(graph.page_posts) == 1 and len(fake_x.tweets) == 1


def test_the_post_to_social_function_reports_a_transient_failure_for_a_retry(supervisor, dispatcher, platforms):
    graph, _ = platforms
    notice = create(supervisor)
    graph.fail_next(f"/v25.0/{PAGE_ID}/feed", 502)

    with pytest.raises(SocialPostUnavailableError, match="facebook: Graph API answered 502"):
        social.handle(event("broadcast_sent", notice["id"]))


def test_capturing_a_posted_notice_posts_one_captured_follow_up_per_platform(supervisor, aws, dispatcher, platforms):
    graph, fake_x = platforms
    notice = with_photo(supervisor, aws, dispatcher)
    broadcast(supervisor, dispatcher, notice)
    [first_tweet] = fake_x.tweets

    # WHEN the notice is captured (and the same PATCH comes again, and SQS redelivers the event)
    for _ in range(2):
        supervisor.patch(f"/wanted/{notice['id']}", groups=SUPERVISOR, body={"status": "captured"})
        dispatcher.drain()
    again = social.handle(event("notice_captured", notice["id"]))

    # THEN one "captured" post on the Page and one reply to the notice's tweet
    assert [p["edge"] for p in graph.page_posts] == ["photos", "feed"]
    captured_post = graph.page_posts[1]["payload"]["message"]
    assert "पकड़ा गया" in captured_post and "Captured: wanted W-0001" in captured_post
    [_, reply] = fake_x.tweets
    assert reply["payload"]["reply"] == {"in_reply_to_tweet_id": first_tweet["id"]}
    assert reply["payload"]["text"].startswith("CAPTURED: W-0001")
    assert again == {"facebook": "already_posted", "x": "already_posted"}
    shown = json_of(supervisor.get(f"/wanted/{notice['id']}", groups=SUPERVISOR))
    assert [(p["platform"], p["kind"], p["status"]) for p in shown["social_posts"]] == [
        ("facebook", "notice", "posted"),
        ("x", "notice", "posted"),
        ("facebook", "captured", "posted"),
        ("x", "captured", "posted"),
    ]


def test_capturing_a_notice_that_was_never_posted_posts_nothing(supervisor, dispatcher, platforms):
    graph, fake_x = platforms
    notice = create(supervisor)

    supervisor.patch(f"/wanted/{notice['id']}", groups=SUPERVISOR, body={"status": "captured"})
    dispatcher.drain()

    assert graph.page_posts == [] and fake_x.tweets == []


def test_a_capture_does_not_wait_for_a_notice_post_that_failed_for_now(supervisor, dispatcher, platforms):
    graph, fake_x = platforms
    notice = create(supervisor)
    graph.fail_next(f"/v25.0/{PAGE_ID}/feed", 503)
    broadcast(supervisor, dispatcher, notice)  # the Page post failed for now (its claim given back); X was posted
    supervisor.patch(f"/wanted/{notice['id']}", groups=SUPERVISOR, body={"status": "captured"})

    outcome = social.handle(event("notice_captured", notice["id"]))

    # X's follow-up goes out; the Page post will never be made (the notice is captured), so it holds nothing up.
    assert set(outcome) == {"x"} and len(fake_x.tweets) == 2
    assert social.handle(event("broadcast_sent", notice["id"])) == {}  # the notice's own event, redelivered
    assert graph.page_posts == []


def test_a_capture_waits_only_for_a_notice_post_under_way(supervisor, dispatcher, platforms):
    from shared import clock
    from shared.storage import social_posts

    graph, fake_x = platforms
    notice = create(supervisor)
    graph.fail_next(f"/v25.0/{PAGE_ID}/feed", 503)
    broadcast(supervisor, dispatcher, notice)
    now = int(clock.now().timestamp())
    assert social_posts.claim(notice["id"], "facebook", "notice", None, now, 120)  # a poster is at work right now
    supervisor.patch(f"/wanted/{notice['id']}", groups=SUPERVISOR, body={"status": "captured"})

    with pytest.raises(SocialPostUnavailableError, match="facebook"):
        social.handle(event("notice_captured", notice["id"]))

    assert len(fake_x.tweets) == 2  # X's follow-up did not wait for the Page


def test_a_template_broadcast_posts_nothing(supervisor, dispatcher, platforms):
    from tests.sms_helpers import record_publishes

    graph, fake_x = platforms
    publishes = record_publishes()
    body = {"template_id": TEMPLATE_IDS["alert"], "variables": {"subject": "road closed"}}
    response = send(supervisor, body | {"areas": ["jharia"], "languages": ["en"], "channels": ["sms"]})
    dispatcher.drain()

    assert response.status_code == 202
    assert not [call for call in publishes if call.get("TopicArn", "").endswith(":sampark-broadcast-events")]
    assert graph.page_posts == [] and fake_x.tweets == []


def test_a_platform_without_its_settings_is_skipped(supervisor, dispatcher, graph, monkeypatch):
    notice = create(supervisor)
    for name in X_SETTINGS:
        monkeypatch.delenv(name, raising=False)

    record = broadcast(supervisor, dispatcher, notice)

    assert set(posts_by(record)) == {("facebook", "notice")} and len(graph.page_posts) == 1
