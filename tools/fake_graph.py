"""A fake Meta Graph API on 127.0.0.1: serves WhatsApp media and records the replies we send.

Used by `make run` (there is no internet) and by the tests. It follows the documented contract:
- GET  /<version>/<media-id>            -> {"url", "mime_type", "sha256", "file_size", "id"}  (Bearer required)
- GET  /media/<media-id>                 -> the bytes                                        (Bearer required)
- POST /<version>/<phone-number-id>/messages -> {"messaging_product", "contacts", "messages": [{"id"}]}
- GET  /_fake/replies                    -> every reply received so far (for people and tests)
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEMO_MEDIA_ID = "1210000000000001"
DEMO_PHOTO = Path(__file__).resolve().parent.parent / "tests" / "events" / "media" / "photo.jpg"


@dataclass
class FakeMedia:
    body: bytes
    mime_type: str


@dataclass
class FakeGraphState:
    access_token: str
    media: dict[str, FakeMedia] = field(default_factory=dict)
    replies: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    # path prefix -> list of statuses to answer before behaving normally (failure injection for tests)
    failures: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeGraphServer:
    def __init__(self, access_token: str, host: str = "127.0.0.1", port: int = 0, version: str = "v25.0") -> None:
        self.state = FakeGraphState(access_token=access_token)
        self.version = version
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-graph", daemon=True)

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

    def fail_next(self, path_prefix: str, *statuses: int) -> None:
        with self.state.lock:
            self.state.failures.setdefault(path_prefix, []).extend(statuses)

    @property
    def replies(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.replies)


def _handler_for(fake: FakeGraphServer) -> type[BaseHTTPRequestHandler]:
    state = fake.state

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/_fake/replies":
                return self._json(200, {"replies": fake.replies})
            if self._injected_failure(path) or not self._authorised():
                return None
            parts = path.strip("/").split("/")
            if len(parts) == 2 and parts[0] == "media":
                return self._media_bytes(parts[1])
            if len(parts) == 2 and parts[0] == fake.version:
                return self._media_info(parts[1])
            return self._json(404, {"error": {"message": "unknown path", "code": 100}})

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self._injected_failure(path) or not self._authorised():
                return None
            parts = path.strip("/").split("/")
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
            media = state.media.get(media_id)
            if media is None:
                return self._json(404, {"error": {"message": "media not found", "code": 100}})
            self.send_response(200)
            self.send_header("Content-Type", media.mime_type)
            self.send_header("Content-Length", str(len(media.body)))
            self.end_headers()
            self.wfile.write(media.body)
            return None

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {state.access_token}":
                return True
            self._json(401, {"error": {"message": "Invalid OAuth access token", "code": 190}})
            return False

        def _injected_failure(self, path: str) -> bool:
            with state.lock:
                state.requests.append((self.command, path))
                for prefix, statuses in state.failures.items():
                    if path.startswith(prefix) and statuses:
                        status = statuses.pop(0)
                        break
                else:
                    return False
            self._json(status, {"error": {"message": "injected failure", "code": 1}})
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
