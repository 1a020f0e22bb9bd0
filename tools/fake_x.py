"""A fake X API on 127.0.0.1: records the DMs, replies and tweets we send and serves media, all OAuth 1.0a-checked.

Used by the tests (there is no internet here). It follows the documented contract and, like X, refuses any request
whose OAuth 1.0a signature (HMAC-SHA1, user context of the configured account) does not verify:
- POST /2/dm_conversations/with/<participant id>/messages {"text"}
                                                        -> 201 {"data": {"dm_conversation_id", "dm_event_id"}}
- POST /2/tweets {"text", "reply"?: {"in_reply_to_tweet_id"}} -> 201 {"data": {"id", "text"}}  (a reply, or the
                                                        police account's own tweet of a wanted notice)
- GET  <any path added with add_media(…, signed=True)>, e.g. /ton/<name> or /1.1/ton/data/dm/…  -> the bytes (signed)
- GET  <any path added with add_media(…, signed=False)>, e.g. /media/<name> (like pbs.twimg.com) -> the bytes
- GET  /2/webhooks (app-only Bearer, set_bearer_token) -> {"data": [{"id", "url", "valid", "created_at"}],
                                                        "meta": {"result_count"}}: one valid webhook on /webhooks/x
                                                        until invalidate_webhook() or remove_webhooks()
- GET  /2/account_activity/webhooks/<webhook id>/subscriptions/all (signed) -> {"data": {"subscribed": true}}, until
                                                        unsubscribe_account()
- GET  /_fake/sent                                                   -> every DM and tweet received so far
Failure injection: ``fail_next(path_prefix, *statuses)`` answers the next requests under a prefix with those statuses;
``delay_next(path_prefix, seconds)`` answers the next one late.
It prints only the text it delivers, never a recipient id.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from shared.channels.x import oauth_signature, parse_oauth_header, signature_base_string

# X refuses a timestamp too far from its clock; it does not document the window, a few minutes is the common lore.
TIMESTAMP_TOLERANCE_SECONDS = 300
TWEET_MAX_WEIGHTED_LENGTH = 280
FAKE_WEBHOOK_ID = "1860000000000000001"
FAKE_WEBHOOK_URL = "https://sampark.example.org/api/webhooks/x"
_SUBSCRIPTION_PATH = ["2", "account_activity", "webhooks", "subscriptions", "all"]


@dataclass
class FakeMedia:
    body: bytes
    content_type: str
    signed: bool


@dataclass
class FakeXState:
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str
    account_id: str
    media: dict[str, FakeMedia] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    # (method, path, whether its OAuth signature verified) for every request but /_fake/
    requests: list[tuple[str, str, bool]] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)
    failures: dict[str, list[int]] = field(default_factory=dict)
    delays: dict[str, list[float]] = field(default_factory=dict)
    bearer_token: str | None = None  # the app-only token of the webhook endpoints; refused (401) until it is set
    webhooks: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"id": FAKE_WEBHOOK_ID, "url": FAKE_WEBHOOK_URL, "valid": True, "created_at": "2026-11-01T00:00:00.000Z"}
        ]
    )
    account_subscribed: bool = True  # the police account's Account Activity subscription to the webhooks
    next_id: int = 1870000000000000001
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeXServer:
    def __init__(
        self,
        *,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
        account_id: str,
        bearer_token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.state = FakeXState(consumer_key, consumer_secret, access_token, access_token_secret, account_id)
        self.state.bearer_token = bearer_token
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        # stop() waits for the serve loop to notice: a short poll keeps each test's teardown short.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-x", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeXServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_media(self, path: str, body: bytes, content_type: str = "image/jpeg", *, signed: bool = True) -> str:
        """Serve ``body`` at ``path`` ("/ton/<name>" when only a name is given); returns its URL."""
        path = path if path.startswith("/") else f"/ton/{path}"
        with self.state.lock:
            self.state.media[path] = FakeMedia(body, content_type, signed)
        return f"{self.base_url}{path}"

    def fail_next(self, path_prefix: str, *statuses: int) -> None:
        with self.state.lock:
            self.state.failures.setdefault(path_prefix, []).extend(statuses)

    def delay_next(self, path_prefix: str, seconds: float) -> None:
        with self.state.lock:
            self.state.delays.setdefault(path_prefix, []).append(seconds)

    def set_bearer_token(self, token: str) -> None:
        with self.state.lock:
            self.state.bearer_token = token

    def invalidate_webhook(self) -> None:
        """Mark every webhook invalid, as X does after a failed CRC check."""
        with self.state.lock:
            for webhook in self.state.webhooks:
                webhook["valid"] = False

    def remove_webhooks(self) -> None:
        with self.state.lock:
            self.state.webhooks.clear()

    def unsubscribe_account(self) -> None:
        with self.state.lock:
            self.state.account_subscribed = False

    @property
    def sent(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.sent)

    @property
    def dms(self) -> list[dict[str, Any]]:
        return [item for item in self.sent if item["kind"] == "dm"]

    @property
    def tweets(self) -> list[dict[str, Any]]:
        return [item for item in self.sent if item["kind"] == "tweet"]

    def _new_id(self) -> str:
        with self.state.lock:
            self.state.next_id += 1
            return str(self.state.next_id)


def weighted_length(text: str) -> int:
    """X's tweet length: most scripts (Latin, Devanagari, …: code points up to U+10FF) count 1, the rest 2."""
    light = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
    return sum(1 if any(low <= ord(char) <= high for low, high in light) else 2 for char in text)


def _handler_for(fake: FakeXServer) -> type[BaseHTTPRequestHandler]:
    state = fake.state

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/_fake/sent":
                return self._json(200, {"sent": fake.sent})
            signed = self._signature_ok()
            if self._injected_failure(path, signed):
                return None
            parts = path.strip("/").split("/")
            if parts == ["2", "webhooks"]:
                return self._webhooks()
            if len(parts) == 6 and parts[:3] + parts[4:] == _SUBSCRIPTION_PATH:  # …/webhooks/<id>/subscriptions/all
                return self._subscription(parts[3], signed)
            media = state.media.get(path)
            if media is None:
                return self._problem(404, "Not Found Error", "Could not find the media.")
            if media.signed and not signed:
                return self._unauthorized()
            self.send_response(200)
            self.send_header("Content-Type", media.content_type)
            self.send_header("Content-Length", str(len(media.body)))
            self.end_headers()
            self.wfile.write(media.body)
            return None

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            signed = self._signature_ok()
            if self._injected_failure(path, signed):
                return None
            if not signed:
                return self._unauthorized()
            try:
                payload = json.loads(body)
            except ValueError:
                return self._problem(400, "Invalid Request", "The request body is not JSON.")
            if not isinstance(payload, dict) or not isinstance(payload.get("text"), str) or not payload["text"]:
                return self._problem(400, "Invalid Request", "text is required.")
            parts = path.strip("/").split("/")
            if len(parts) == 5 and parts[:3] == ["2", "dm_conversations", "with"] and parts[4] == "messages":
                return self._record_dm(parts[3], payload)
            if parts == ["2", "tweets"]:
                return self._record_tweet(payload)
            return self._problem(404, "Not Found Error", "Unknown endpoint.")

        def _record_dm(self, participant_id: str, payload: dict[str, Any]) -> None:
            if participant_id == state.account_id or not participant_id.isdigit():
                return self._problem(400, "Invalid Request", "participant_id is invalid.")
            event_id = fake._new_id()
            with state.lock:
                state.sent.append({"kind": "dm", "recipient": participant_id, "payload": payload, "id": event_id})
            print(f"[fake-x] DM delivered to the citizen: {payload['text']!r}", flush=True)
            conversation = "-".join(sorted((participant_id, state.account_id)))
            return self._json(201, {"data": {"dm_conversation_id": conversation, "dm_event_id": event_id}})

        def _record_tweet(self, payload: dict[str, Any]) -> None:
            if weighted_length(payload["text"]) > TWEET_MAX_WEIGHTED_LENGTH:
                return self._problem(403, "Forbidden", "Your Tweet text is too long.")
            reply = payload.get("reply")
            if reply is not None and not (isinstance(reply, dict) and reply.get("in_reply_to_tweet_id")):
                return self._problem(400, "Invalid Request", "reply.in_reply_to_tweet_id is required.")
            tweet_id = fake._new_id()
            with state.lock:
                state.sent.append({"kind": "tweet", "payload": payload, "id": tweet_id})
            what = "public reply" if reply is not None else "tweet"
            print(f"[fake-x] {what} posted: {payload['text']!r}", flush=True)
            return self._json(201, {"data": {"id": tweet_id, "text": payload["text"]}})

        def _webhooks(self) -> None:
            with state.lock:
                expected, webhooks = state.bearer_token, [dict(webhook) for webhook in state.webhooks]
            if not expected or self.headers.get("Authorization") != f"Bearer {expected}":
                return self._unauthorized()
            return self._json(200, {"data": webhooks, "meta": {"result_count": len(webhooks)}})

        def _subscription(self, webhook_id: str, signed: bool) -> None:
            if not signed:  # user context: the police account's OAuth 1.0a token
                return self._unauthorized()
            with state.lock:
                known = any(webhook["id"] == webhook_id for webhook in state.webhooks)
                subscribed = state.account_subscribed
            if not known:
                return self._problem(400, "Invalid Request", "WebhookIdInvalid")
            return self._json(200, {"data": {"subscribed": subscribed}})

        def _signature_ok(self) -> bool:
            """Recompute the OAuth 1.0a signature of this request with the account's credentials (RFC 5849 §3.2)."""
            params = parse_oauth_header(self.headers.get("Authorization") or "")
            received = params.pop("oauth_signature", "")
            try:
                timestamp = int(params.get("oauth_timestamp", ""))
            except ValueError:
                return False
            nonce = params.get("oauth_nonce", "")
            if (
                params.get("oauth_consumer_key") != state.consumer_key
                or params.get("oauth_token") != state.access_token
                or params.get("oauth_signature_method") != "HMAC-SHA1"
                or params.get("oauth_version", "1.0") != "1.0"
                or not nonce
                or abs(time.time() - timestamp) > TIMESTAMP_TOLERANCE_SECONDS
            ):
                return False
            url = f"http://{self.headers.get('Host')}{self.path}"
            base = signature_base_string(self.command, url, params.items())
            expected = oauth_signature(base, state.consumer_secret, state.access_token_secret)
            if not hmac.compare_digest(received.encode(), expected.encode()):
                return False
            with state.lock:
                if nonce in state.nonces:  # a replayed request
                    return False
                state.nonces.add(nonce)
            return True

        def _injected_failure(self, path: str, signed: bool) -> bool:
            with state.lock:
                delay = next((d.pop(0) for prefix, d in state.delays.items() if path.startswith(prefix) and d), 0.0)
            if delay:
                time.sleep(delay)
            with state.lock:
                state.requests.append((self.command, path, signed))
                for prefix, statuses in state.failures.items():
                    if path.startswith(prefix) and statuses:
                        status = statuses.pop(0)
                        break
                else:
                    return False
            self._problem(status, "Injected", "injected failure")
            return True

        def _unauthorized(self) -> None:
            self._problem(401, "Unauthorized", "Unauthorized")

        def _problem(self, status: int, title: str, detail: str) -> None:
            # X API v2 errors are RFC 7807-style problem documents.
            self._json(status, {"title": title, "detail": detail, "type": "about:blank", "status": status})

        def _json(self, status: int, body: Any) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
