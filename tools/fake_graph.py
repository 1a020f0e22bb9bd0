"""A fake Meta Graph API on 127.0.0.1: serves WhatsApp and Messenger media and records the replies we send.

Used by `make run` (there is no internet) and by the tests. It follows the documented contract:
- GET  /<version>/<media-id>            -> {"url", "mime_type", "sha256", "file_size", "id"}  (Bearer required)
- GET  /media/<media-id>                 -> the bytes                                        (Bearer required)
- POST /<version>/<phone-number-id>/messages -> {"messaging_product", "contacts", "messages": [{"id"}]}
- GET  /cdn/<name>                       -> the bytes of a Messenger attachment, like a signed Facebook CDN URL
                                            (no token: the Page token must never be sent to a download host)
- POST /<version>/me/messages            -> Messenger Send API: {"recipient_id", "message_id"}
                                            (Bearer = the Page access token)
- POST /<version>/<page-id>/photos {"url", "caption"} -> a Page photo post: {"id", "post_id"} (Bearer = Page token)
- POST /<version>/<page-id>/feed {"message"}          -> a Page text post: {"id"}              (Bearer = Page token)
- GET  /<version>/<phone-number-id>      -> the phone number node {"id", …} (Bearer = the WhatsApp token), for
                                            ids added with add_phone_number(); ?fields=id,… narrows it
- GET  /<version>/<page-id>/subscribed_apps -> {"data": [{"id": <app id>, "subscribed_fields": [...]}]}
                                            (Bearer = the Page token): our app, subscribed to "messages", until
                                            set_subscribed_fields() or unsubscribe_page() says otherwise
- GET  /_fake/replies                    -> every reply and Page post received so far (for people and tests)
Failure injection: fail_next / reject_next (statuses, Graph errors such as 190 for an expired token) and
delay_next (a slow answer) for the next requests under a path prefix.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEMO_MEDIA_ID = "1210000000000001"
FAKE_APP_ID = "1000000000000042"  # the Meta app the fake's Page is subscribed to
DEFAULT_SUBSCRIBED_FIELDS = ("messages", "messaging_postbacks", "message_echoes")
DEMO_PHOTO = Path(__file__).resolve().parent.parent / "tests" / "events" / "media" / "photo.jpg"


@dataclass
class FakeMedia:
    body: bytes
    mime_type: str


@dataclass
class FakeGraphState:
    access_token: str
    page_access_token: str | None = None  # Messenger sends are refused (401) until it is set
    media: dict[str, FakeMedia] = field(default_factory=dict)
    cdn: dict[str, FakeMedia] = field(default_factory=dict)
    replies: list[dict[str, Any]] = field(default_factory=list)
    messenger_replies: list[dict[str, Any]] = field(default_factory=list)
    page_posts: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    # path prefix -> (status, Graph error) to answer before behaving normally (failure injection for tests)
    failures: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    # path prefix -> seconds to wait before answering the next requests (a slow Graph API)
    delays: dict[str, list[float]] = field(default_factory=dict)
    phone_numbers: set[str] = field(default_factory=set)
    # The Page's subscription of our app: its fields, or None when the app is not subscribed at all.
    subscribed_fields: list[str] | None = field(default_factory=lambda: list(DEFAULT_SUBSCRIBED_FIELDS))
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeGraphServer:
    def __init__(
        self,
        access_token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        version: str = "v25.0",
        *,
        page_access_token: str | None = None,
    ) -> None:
        self.state = FakeGraphState(access_token=access_token, page_access_token=page_access_token)
        self.version = version
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        # stop() waits for the serve loop to notice: a short poll keeps each test's teardown short.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-graph", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def graph_api_url(self) -> str:
        return f"{self.base_url}/{self.version}"

    def start(self) -> FakeGraphServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_media(self, media_id: str, body: bytes, mime_type: str) -> None:
        with self.state.lock:
            self.state.media[media_id] = FakeMedia(body, mime_type)

    def add_cdn_file(self, name: str, body: bytes, mime_type: str) -> str:
        """Serve ``body`` without a token, as Facebook's CDN serves a Messenger attachment; returns its URL."""
        with self.state.lock:
            self.state.cdn[name] = FakeMedia(body, mime_type)
        return f"{self.base_url}/cdn/{name}"

    def set_page_access_token(self, token: str) -> None:
        with self.state.lock:
            self.state.page_access_token = token

    def fail_next(self, path_prefix: str, *statuses: int) -> None:
        with self.state.lock:
            self.state.failures.setdefault(path_prefix, []).extend(
                (status, {"message": "injected failure", "code": 1}) for status in statuses
            )

    def delay_next(self, path_prefix: str, seconds: float) -> None:
        """Wait ``seconds`` before answering the next request under ``path_prefix``."""
        with self.state.lock:
            self.state.delays.setdefault(path_prefix, []).append(seconds)

    def add_phone_number(self, phone_number_id: str) -> None:
        """Let the WhatsApp token see this phone number id (GET /<version>/<phone-number-id>)."""
        with self.state.lock:
            self.state.phone_numbers.add(phone_number_id)

    def set_subscribed_fields(self, *fields: str) -> None:
        """Keep our app subscribed to the Page, with only these webhook fields."""
        with self.state.lock:
            self.state.subscribed_fields = list(fields)

    def unsubscribe_page(self) -> None:
        """Unsubscribe our app from the Page, as Meta does after its webhook kept failing."""
        with self.state.lock:
            self.state.subscribed_fields = None

    def reject_next(self, path_prefix: str, status: int, code: int, subcode: int | None = None) -> None:
        """Answer the next request under ``path_prefix`` with a Graph error of that code (and subcode)."""
        error: dict[str, Any] = {"message": "injected Graph error", "type": "OAuthException", "code": code}
        if subcode is not None:
            error["error_subcode"] = subcode
        with self.state.lock:
            self.state.failures.setdefault(path_prefix, []).append((status, error))

    @property
    def replies(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.replies)

    @property
    def page_posts(self) -> list[dict[str, Any]]:
        """Each Page post: {"page_id", "edge" ("photos" or "feed"), "payload", "id", "query"}."""
        with self.state.lock:
            return list(self.state.page_posts)

    @property
    def messenger_replies(self) -> list[dict[str, Any]]:
        """Each Messenger send: {"payload": <the Send API body>, "query": <the URL's query string>}."""
        with self.state.lock:
            return list(self.state.messenger_replies)


def _handler_for(fake: FakeGraphServer) -> type[BaseHTTPRequestHandler]:
    state = fake.state

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/_fake/replies":
                sent = {"replies": fake.replies, "messenger_replies": fake.messenger_replies}
                return self._json(200, {**sent, "page_posts": fake.page_posts})
            parts = path.strip("/").split("/")
            if len(parts) == 2 and parts[0] == "cdn":  # signed CDN URLs need no token
                return None if self._injected_failure(path) else self._bytes(state.cdn.get(parts[1]))
            if len(parts) == 3 and parts[0] == fake.version and parts[2] == "subscribed_apps":
                if self._injected_failure(path) or not self._authorised(state.page_access_token or ""):
                    return None
                return self._subscribed_apps()
            if self._injected_failure(path) or not self._authorised():
                return None
            if len(parts) == 2 and parts[0] == "media":
                return self._media_bytes(parts[1])
            if len(parts) == 2 and parts[0] == fake.version and parts[1] in state.phone_numbers:
                return self._phone_number(parts[1])
            if len(parts) == 2 and parts[0] == fake.version:
                return self._media_info(parts[1])
            return self._json(404, {"error": {"message": "unknown path", "code": 100}})

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            parts = path.strip("/").split("/")
            if parts == [fake.version, "me", "messages"]:
                if self._injected_failure(path) or not self._authorised(state.page_access_token or ""):
                    return None
                return self._record_messenger_reply(body)
            if len(parts) == 3 and parts[0] == fake.version and parts[2] in ("photos", "feed"):
                if self._injected_failure(path) or not self._authorised(state.page_access_token or ""):
                    return None
                return self._record_page_post(parts[1], parts[2], body)
            if self._injected_failure(path) or not self._authorised():
                return None
            if len(parts) == 3 and parts[0] == fake.version and parts[2] == "messages":
                return self._record_reply(parts[1], body)
            return self._json(404, {"error": {"message": "unknown path", "code": 100}})

        def _record_reply(self, phone_number_id: str, body: bytes) -> None:
            try:
                payload = json.loads(body)
            except ValueError:
                return self._json(400, {"error": {"message": "invalid JSON", "code": 100}})
            with state.lock:
                state.replies.append({"phone_number_id": phone_number_id, "payload": payload})
            # Like Meta, the fake knows the recipient; it prints only the text, so that logs stay free of numbers.
            text = (payload.get("text") or {}).get("body", "")
            print(f"[fake-graph] reply delivered to the citizen: {text!r}", flush=True)
            recipient = payload.get("to") or payload.get("recipient")
            return self._json(
                200,
                {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": recipient, "wa_id": recipient}],
                    "messages": [{"id": f"wamid.fake{uuid.uuid4().hex}"}],
                },
            )

        def _record_messenger_reply(self, body: bytes) -> None:
            try:
                payload = json.loads(body)
            except ValueError:
                return self._json(400, {"error": {"message": "invalid JSON", "code": 100}})
            recipient = (payload.get("recipient") or {}).get("id") if isinstance(payload, dict) else None
            if not recipient or payload.get("messaging_type") not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
                return self._json(400, {"error": {"message": "(#100) Invalid parameter", "code": 100}})
            with state.lock:
                # The query string is kept so that tests can check that no token travels in the URL.
                state.messenger_replies.append({"payload": payload, "query": urlsplit(self.path).query})
            # Only the text is printed: logs stay free of page-scoped ids.
            text = (payload.get("message") or {}).get("text", "")
            print(f"[fake-graph] Messenger reply delivered to the citizen: {text!r}", flush=True)
            return self._json(200, {"recipient_id": recipient, "message_id": f"m_fake{uuid.uuid4().hex}"})

        def _record_page_post(self, page_id: str, edge: str, body: bytes) -> None:
            try:
                payload = json.loads(body)
            except ValueError:
                return self._json(400, {"error": {"message": "invalid JSON", "code": 100}})
            if not isinstance(payload, dict):
                return self._json(400, {"error": {"message": "(#100) Invalid parameter", "code": 100}})
            if edge == "photos" and not str(payload.get("url", "")).startswith(("http://", "https://")):
                return self._json(400, {"error": {"message": "(#324) Requires upload file", "code": 324}})
            if edge == "feed" and not (isinstance(payload.get("message"), str) and payload["message"].strip()):
                return self._json(400, {"error": {"message": "(#100) Missing message or attachment", "code": 100}})
            number = uuid.uuid4().int % 10**15
            post_id = f"{page_id}_{number}"
            answer = {"id": f"{number + 1}", "post_id": post_id} if edge == "photos" else {"id": post_id}
            with state.lock:
                state.page_posts.append(
                    {
                        "page_id": page_id,
                        "edge": edge,
                        "payload": payload,
                        "id": post_id,
                        "query": urlsplit(self.path).query,
                    }
                )
            text = payload.get("caption") or payload.get("message") or ""
            print(f"[fake-graph] posted on the Page ({edge}): {text.splitlines()[0] if text else ''!r}", flush=True)
            return self._json(200, answer)

        def _phone_number(self, phone_number_id: str) -> None:
            node = {
                "verified_name": "Dhanbad Police",
                "code_verification_status": "VERIFIED",
                "display_phone_number": "+91 90000 00001",
                "quality_rating": "GREEN",
                "platform_type": "CLOUD_API",
                "id": phone_number_id,
            }
            fields = parse_qs(urlsplit(self.path).query).get("fields")
            if fields:
                wanted = set(fields[0].split(",")) | {"id"}
                node = {key: value for key, value in node.items() if key in wanted}
            return self._json(200, node)

        def _subscribed_apps(self) -> None:
            with state.lock:
                fields = state.subscribed_fields
            apps = [] if fields is None else [{"id": FAKE_APP_ID, "name": "Sampark", "subscribed_fields": fields}]
            return self._json(200, {"data": apps})

        def _media_info(self, media_id: str) -> None:
            media = state.media.get(media_id)
            if media is None:
                return self._json(404, {"error": {"message": "media not found", "code": 100}})
            return self._json(
                200,
                {
                    "messaging_product": "whatsapp",
                    "url": f"{fake.base_url}/media/{media_id}",
                    "mime_type": media.mime_type,
                    "sha256": base64.b64encode(hashlib.sha256(media.body).digest()).decode(),
                    "file_size": str(len(media.body)),
                    "id": media_id,
                },
            )

        def _media_bytes(self, media_id: str) -> None:
            return self._bytes(state.media.get(media_id))

        def _bytes(self, media: FakeMedia | None) -> None:
            if media is None:
                return self._json(404, {"error": {"message": "media not found", "code": 100}})
            self.send_response(200)
            self.send_header("Content-Type", media.mime_type)
            self.send_header("Content-Length", str(len(media.body)))
            self.end_headers()
            self.wfile.write(media.body)
            return None

        def _authorised(self, token: str | None = None) -> bool:
            expected = state.access_token if token is None else token
            if expected and self.headers.get("Authorization") == f"Bearer {expected}":
                return True
            self._json(401, {"error": {"message": "Invalid OAuth access token", "code": 190}})
            return False

        def _injected_failure(self, path: str) -> bool:
            with state.lock:
                delay = next((d.pop(0) for prefix, d in state.delays.items() if path.startswith(prefix) and d), 0.0)
            if delay:
                time.sleep(delay)
            with state.lock:
                state.requests.append((self.command, path))
                for prefix, failures in state.failures.items():
                    if path.startswith(prefix) and failures:
                        status, error = failures.pop(0)
                        break
                else:
                    return False
            self._json(status, {"error": error})
            return True

        def _json(self, status: int, body: Any) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def with_demo_media(server: FakeGraphServer) -> FakeGraphServer:
    server.add_media(DEMO_MEDIA_ID, DEMO_PHOTO.read_bytes(), "image/jpeg")
    return server
