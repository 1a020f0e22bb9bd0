"""`make run`: all of Sampark on this machine, on an embedded AWS (moto) and fake platform APIs. No cloud, no internet.

One process starts everything, and stops all of it on Ctrl-C or SIGTERM:
- moto in server mode on 127.0.0.1:$MOTO_PORT (default 5000), empty, with the resources of infra/resources.json;
- the fake Graph API on 127.0.0.1:$FAKE_GRAPH_PORT (default 5002): serves the demo photo (WhatsApp media, Messenger
  CDN), records our WhatsApp and Messenger replies;
- the fake X API on 127.0.0.1:$FAKE_X_PORT (default 5003): serves the demo photo as DM media, records our DMs;
- `chalice local` on 127.0.0.1:$PORT (default 8000), a child process: the webhooks, and the officers' API, which
  checks access tokens issued by moto's Cognito (`make token`) against the keys the moto server serves;
- the queue- and topic-triggered functions, in this process, polled like Lambda's event sources (tools.dispatcher).
Each setting comes from the shell when it is set there, else from DEVELOPMENT_SETTINGS. The example deliveries it
prints are written next to $EXAMPLE_DELIVERY_FILE (default build/example-whatsapp.json): example-messenger.json and
example-x.json.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from shared import notices
from shared.areas import all_areas
from shared.aws import alert_topics
from shared.channels import meta, x
from shared.channels.sms import INBOUND_TOPIC
from tools import sms_outbox, sns_email
from tools.fake_graph import DEMO_MEDIA_ID, DEMO_PHOTO, FakeGraphServer, with_demo_media
from tools.fake_x import FakeXServer
from tools.resources import ACCOUNT_ID, PUBLIC_MEDIA_URL_SETTING, LocalStack

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
REGION = "ap-south-1"
READY_LINE = "Sampark is running"
EXAMPLE_DELIVERY_FILE = ROOT / "build" / "example-whatsapp.json"
EXAMPLE_SENDER = "919000000001"  # a made-up Indian mobile number
MESSENGER_EXAMPLE_SENDER = "7200000000000001"  # a made-up page-scoped id (PSID)
X_EXAMPLE_SENDER = "1720000000000000001"  # a made-up X user id
# Where the fakes serve the demo photo: a Messenger attachment (no token, like a signed fbcdn URL) and X DM media
# (OAuth 1.0a required, like ton.twitter.com; the ids in the path are made up).
DEMO_CDN_NAME = "demo-photo.jpg"
DEMO_X_MEDIA_ID = "1720000000000000002"
DEMO_X_MEDIA_PATH = f"/1.1/ton/data/dm/1720000000000000003/{DEMO_X_MEDIA_ID}/demo-photo.jpg"
X_CRC_TOKEN = "sampark-local-crc"
# Every SMS the system sends locally (one JSON object a line), printed too: there is no phone here.
SMS_OUTBOX = Path(os.environ.get("SMS_OUTBOX_FILE") or ROOT / "build" / "local-sms.jsonl")
STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 5.0

# Development values, each used only when the shell does not set the variable. None of them is a secret: they
# only sign and check requests between processes on this machine, and the Graph API they unlock is the fake one.
DEVELOPMENT_SETTINGS: dict[str, str] = {
    "META_APP_SECRET": "dev-app-secret",
    "META_VERIFY_TOKEN": "dev-verify-token",
    "WHATSAPP_ACCESS_TOKEN": "dev-whatsapp-access-token",
    "WHATSAPP_PHONE_NUMBER_ID": "100000000000001",
    "MESSENGER_PAGE_ID": "100000000000002",
    "MESSENGER_PAGE_ACCESS_TOKEN": "dev-messenger-page-access-token",
    "X_CONSUMER_KEY": "dev-x-consumer-key",
    "X_CONSUMER_SECRET": "dev-x-consumer-secret",
    "X_ACCESS_TOKEN": "dev-x-access-token",
    "X_ACCESS_TOKEN_SECRET": "dev-x-access-token-secret",
    "X_ACCOUNT_ID": "100000000000003",
    "SENDER_PEPPER": "dev-sender-pepper",
    # SMS to India (shared/sms.py): a made-up DLT header, principal entity id and templates (fake 19-digit ids).
    "SMS_SENDER_ID": "DHNPOL",
    "DLT_ENTITY_ID": "1001000000000000000",
    "DLT_TEMPLATES_FILE": str(ROOT / "tools" / "demo-dlt-templates.json"),
    # The made-up two-way number the banner's inbound SMS is written to: SMS replies come from it.
    "SMS_TWO_WAY_NUMBER": "+919000000100",
}
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}  # moto accepts any
# Powertools warns on every request that adds no metric (the handshake, a duplicate): noise in a terminal.
QUIET_WARNINGS = "ignore:No application metrics to publish:UserWarning"


class StartupError(Exception):
    """Something stops Sampark from starting; the message says what to do."""


@dataclass(frozen=True)
class Ports:
    api: int
    moto: int
    fake_graph: int
    fake_x: int

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Ports:
        return cls(
            api=_port(environ, "PORT", 8000),
            moto=_port(environ, "MOTO_PORT", 5000),
            fake_graph=_port(environ, "FAKE_GRAPH_PORT", 5002),
            fake_x=_port(environ, "FAKE_X_PORT", 5003),
        )

    def named(self) -> dict[str, int]:
        return {
            "PORT": self.api,
            "MOTO_PORT": self.moto,
            "FAKE_GRAPH_PORT": self.fake_graph,
            "FAKE_X_PORT": self.fake_x,
        }


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    value = environ.get(name) or str(default)
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise StartupError(f"{name}={value!r} is not a port number")
    return int(value)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers bind: a port held only by closed connections (TIME_WAIT) is free, a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def check_ports(ports: Ports) -> None:
    named = ports.named()
    if len(set(named.values())) < len(named):
        raise StartupError(f"{', '.join(named)} must all differ: {named}")
    for name, port in named.items():
        if not port_is_free(port):
            # Checked up front: ThreadedMotoServer would wait forever on a port it cannot bind.
            hint = " (on macOS, AirPlay Receiver holds 5000)" if port == 5000 else ""
            raise StartupError(
                f"port {port} ({name}) is already in use{hint}. Stop whatever holds it, "
                f"or choose another: make run {name}={port + 10}"
            )


# --- the application's environment --------------------------------------------------------------------------


def development_settings(shell: Mapping[str, str]) -> dict[str, str]:
    """DEVELOPMENT_SETTINGS, with the shell's value wherever it sets one (empty counts as unset, as in config)."""
    return {name: shell.get(name) or value for name, value in DEVELOPMENT_SETTINGS.items()}


def app_environment(
    shell: Mapping[str, str], stack_env: Mapping[str, str], moto_url: str, graph_api_url: str, x_api_url: str
) -> dict[str, str]:
    # Nothing AWS-related is inherited: a profile, endpoint or secret id from the shell must never let local
    # traffic reach a real AWS account.
    environment = {name: value for name, value in shell.items() if not name.startswith("AWS_") and name != "SECRETS_ID"}
    environment.update(development_settings(shell))
    environment["GRAPH_API_URL"] = shell.get("GRAPH_API_URL") or graph_api_url
    environment["X_API_URL"] = shell.get("X_API_URL") or x_api_url
    environment.update(stack_env)
    environment.update(LOCAL_CREDENTIALS)
    environment.update(AWS_ENDPOINT_URL=moto_url, AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION)
    environment["PYTHONUNBUFFERED"] = "1"  # chalice's logs reach the terminal (or a test's pipe) as they happen
    environment.setdefault("PYTHONWARNINGS", QUIET_WARNINGS)
    return environment


class MotoSession:
    """What LocalStack needs of a boto3 session, with every client pointed at the moto server."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self.region_name = REGION
        self._session = boto3.Session(region_name=REGION, **_lower_keys(LOCAL_CREDENTIALS))

    def client(self, service_name: str, **kwargs: Any) -> Any:
        return self._session.client(service_name, endpoint_url=self.endpoint_url, **kwargs)


def _lower_keys(credentials: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in credentials.items()}


# --- the example deliveries --------------------------------------------------------------------------------


def example_delivery(phone_number_id: str, sent_at: int, sender: str = EXAMPLE_SENDER) -> bytes:
    """A WhatsApp Cloud API delivery as Meta sends it: a text in Hindi and English, and a photo, from one sender.

    Serialised like Meta's (compact, non-ASCII as \\uXXXX): the signature covers exactly these bytes.
    """
    photo_sha256 = base64.b64encode(hashlib.sha256(DEMO_PHOTO.read_bytes()).digest()).decode()
    text = (
        "बैंक मोड़ बस स्टैंड के पीछे हर शाम अवैध शराब बिकती है। "
        "Liquor is sold illegally behind the Bank More bus stand every evening."
    )
    message = {"from": sender, "timestamp": str(sent_at)}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "919431100100", "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": "Demo Citizen"}, "wa_id": sender}],
        "messages": [
            {**message, "id": _wamid(sender, sent_at, "text"), "type": "text", "text": {"body": text}},
            {
                **message,
                "id": _wamid(sender, sent_at, "image"),
                "type": "image",
                "image": {"mime_type": "image/jpeg", "sha256": photo_sha256, "id": DEMO_MEDIA_ID},
            },
        ],
    }
    delivery = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(delivery, separators=(",", ":")).encode()


def _wamid(sender: str, sent_at: int, kind: str) -> str:
    # Real message ids look like this: base64 of the sender's number and a unique part.
    return "wamid." + base64.b64encode(f"{sender}-{sent_at}-{kind}".encode()).decode().rstrip("=")


def example_messenger_delivery(
    page_id: str, sent_at_ms: int, photo_url: str, sender: str = MESSENGER_EXAMPLE_SENDER
) -> bytes:
    """A Messenger delivery as Meta sends it: a text in Hindi and English, then a photo, from one person (PSID).

    Serialised like Meta's (compact, non-ASCII as \\uXXXX, "/" as "\\/"): the signature covers exactly these bytes.
    """
    text = "धनसार में हर रात ट्रकों में चोरी का कोयला भरा जाता है। Stolen coal is loaded onto trucks in Dhansar every night."

    def entry(offset_ms: int, kind: str, message: dict[str, Any]) -> dict[str, Any]:
        at = sent_at_ms + offset_ms
        mid = "m_" + base64.urlsafe_b64encode(f"{sender}-{at}-{kind}".encode()).decode().rstrip("=")
        event = {"sender": {"id": sender}, "recipient": {"id": page_id}, "timestamp": at, "message": {"mid": mid}}
        event["message"].update(message)
        return {"id": page_id, "time": at + 412, "messaging": [event]}

    delivery = {
        "object": "page",
        "entry": [
            entry(0, "text", {"text": text}),
            entry(1, "image", {"attachments": [{"type": "image", "payload": {"url": photo_url}}]}),
        ],
    }
    return json.dumps(delivery, separators=(",", ":")).replace("/", "\\/").encode()


def example_x_delivery(account_id: str, sent_at_ms: int, photo_url: str, sender: str = X_EXAMPLE_SENDER) -> bytes:
    """An Account Activity delivery as X sends it: one DM to ``account_id`` with a text and a photo."""
    # X ids are snowflakes: milliseconds since X's epoch, then 22 bits (here from the sender, so ids differ by sender).
    dm_id = str((sent_at_ms - 1288834974657) << 22 | int(hashlib.sha256(sender.encode()).hexdigest(), 16) % (1 << 22))
    link = "https://t.co/SmPk0Demo1"
    words = "The truck that takes the stolen coal from Dhansar at night is JH10 AB 1234."
    media = {
        "id": int(DEMO_X_MEDIA_ID),
        "id_str": DEMO_X_MEDIA_ID,
        "indices": [len(words) + 1, len(words) + 1 + len(link)],
        "media_url": photo_url,
        "media_url_https": photo_url,
        "url": link,
        "display_url": "pic.x.com/SmPk0Demo1",
        "expanded_url": f"https://x.com/messages/media/{dm_id}",
        "type": "photo",
    }
    event = {
        "type": "message_create",
        "id": dm_id,
        "created_timestamp": str(sent_at_ms),
        "message_create": {
            "target": {"recipient_id": account_id},
            "sender_id": sender,
            "message_data": {
                "text": f"{words} {link}",
                "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
                "attachment": {"type": "media", "media": media},
            },
        },
    }
    users = {
        sender: {"id": sender, "name": "Demo Citizen", "screen_name": "demo_citizen"},
        account_id: {"id": account_id, "name": "Dhanbad Police", "screen_name": "DhanbadPolice"},
    }
    delivery = {"for_user_id": account_id, "direct_message_events": [event], "users": users}
    return json.dumps(delivery, separators=(",", ":")).encode()


@dataclass(frozen=True)
class DemoMedia:
    """Where the fakes serve the demo photo."""

    messenger_photo_url: str
    x_photo_url: str


@dataclass(frozen=True)
class Example:
    path: Path
    signature: str


@dataclass(frozen=True)
class Examples:
    whatsapp: Example
    messenger: Example
    x: Example


def write_examples(environment: Mapping[str, str], demo: DemoMedia) -> Examples:
    """Write fresh example deliveries, each with the signature its platform would send.

    The folder can be changed (EXAMPLE_DELIVERY_FILE) so that a second instance (the end-to-end test) does not
    overwrite the files whose signatures a developer's `make run` printed.
    """
    whatsapp = Path(environment.get("EXAMPLE_DELIVERY_FILE") or EXAMPLE_DELIVERY_FILE).resolve()
    now_ms = int(time.time() * 1000)
    bodies = {
        whatsapp: example_delivery(environment["WHATSAPP_PHONE_NUMBER_ID"], now_ms // 1000),
        whatsapp.with_name("example-messenger.json"): example_messenger_delivery(
            environment["MESSENGER_PAGE_ID"], now_ms, demo.messenger_photo_url
        ),
        whatsapp.with_name("example-x.json"): example_x_delivery(environment["X_ACCOUNT_ID"], now_ms, demo.x_photo_url),
    }
    whatsapp.parent.mkdir(parents=True, exist_ok=True)
    for path, body in bodies.items():
        path.write_bytes(body)
    (wa_path, wa_body), (ms_path, ms_body), (x_path, x_body) = bodies.items()
    return Examples(
        whatsapp=Example(wa_path, meta.sign(wa_body, environment["META_APP_SECRET"])),
        messenger=Example(ms_path, meta.sign(ms_body, environment["META_APP_SECRET"])),
        x=Example(x_path, x.sign(x_body, environment["X_CONSUMER_SECRET"])),
    )


def _short(path: Path) -> Path:
    """Relative when under the current folder: short when pasted where `make run` runs, absolute otherwise."""
    return path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path


def _signed_post(url: str, header: str, example: Example) -> str:
    return (
        f"curl -i -X POST {url} -H 'Content-Type: application/json' -H '{header}: {example.signature}' "
        f"--data-binary @{_short(example.path)}"
    )


def banner(ports: Ports, environment: Mapping[str, str], examples: Examples) -> str:
    api = f"http://{HOST}:{ports.api}"
    moto = environment["AWS_ENDPOINT_URL"]
    whatsapp, messenger, x_webhook = (f"{api}/webhooks/{name}" for name in ("whatsapp", "messenger", "x"))
    crc = x.sign(X_CRC_TOKEN.encode(), environment["X_CONSUMER_SECRET"])
    sms = (
        f"{_short(Path(sys.executable))} -c \"import boto3, json; boto3.client('sns', endpoint_url='{moto}', "
        f"region_name='{REGION}', aws_access_key_id='local', aws_secret_access_key='local').publish("
        f"TopicArn='arn:aws:sns:{REGION}:{ACCOUNT_ID}:{INBOUND_TOPIC}', Message=json.dumps(dict("
        "originationNumber='+919000000002', destinationNumber='+919000000100', messageKeyword='KEYWORD_123456789012', "
        "messageBody='Sand is dug from the Damodar at night', inboundMessageId='local-sms-1')))\""
    )
    results = {
        f"make tips MOTO_PORT={ports.moto}": "the tips, newest first; photos saved under build/local-media/",
        f"curl -s http://{HOST}:{ports.fake_graph}/_fake/replies": "our WhatsApp and Messenger replies",
        f"curl -s http://{HOST}:{ports.fake_x}/_fake/sent": "our DMs on X",
        f"cat {_short(SMS_OUTBOX)}": "every SMS sent (one-time codes, acknowledgements), also printed here",
    }
    width = max(map(len, results))
    results_text = "\n".join(f"  {command.ljust(width)}   {what}" for command, what in results.items())
    return f"""
Sampark, locally
  Webhooks           {api}/webhooks/whatsapp, /messenger, /x; SMS via SNS on moto
  AWS (moto)         {moto}   (browse: {moto}/moto-api/)
  Graph API (fake)   {environment["GRAPH_API_URL"]}   (WhatsApp and Messenger)
  X API (fake)       {environment["X_API_URL"]}
  Settings           from your shell, else tools/local_stack.py DEVELOPMENT_SETTINGS

Try each channel (bodies under {_short(examples.whatsapp.path.parent)}/; sending one again changes nothing):
WhatsApp: Meta's handshake (answers 1158201444), then a text in Hindi and English and a photo
  curl -i '{whatsapp}?hub.mode=subscribe&hub.verify_token={environment["META_VERIFY_TOKEN"]}&hub.challenge=1158201444'
  {_signed_post(whatsapp, "X-Hub-Signature-256", examples.whatsapp)}
Messenger: a text in Hindi and English and a photo
  {_signed_post(messenger, "X-Hub-Signature-256", examples.messenger)}
X: the CRC check (answers {{"response_token":"{crc}"}}), then a DM with a text and a photo
  curl -i '{x_webhook}?crc_token={X_CRC_TOKEN}'
  {_signed_post(x_webhook, x.SIGNATURE_HEADER, examples.x)}
SMS: an inbound SMS, published to SNS as AWS End User Messaging does (acknowledged by SMS through moto's SNS)
  {sms}

Alerts: sign up in a browser at {api}/subscribe, or (the code arrives by SMS: see below)
  curl -X POST {api}/subscriptions -H 'Content-Type: application/json' \\
       -d '{{"phone": "98350 11111", "areas": ["jharia"], "language": "hi"}}'
  curl -X POST {api}/subscriptions/<id>/verify -H 'Content-Type: application/json' -d '{{"code": "<code>"}}'

Officers: an access token from the local user pool (one user per role and areas, created on first use)
  make token MOTO_PORT={ports.moto} ROLE=officer AREA={all_areas()[0].id}   (supervisor, admin: AREA optional)
  curl -H "Authorization: Bearer $(make -s token MOTO_PORT={ports.moto} ROLE=supervisor)" {api}/tips

What happened:
{results_text}

Ctrl-C stops everything.
"""


# --- the processes and threads ---------------------------------------------------------------------------------


def start_moto(port: int) -> Any:
    from moto.server import ThreadedMotoServer  # imported here: it takes half a second

    # Werkzeug logs every request, and the dispatcher polls three queues five times a second.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Officers sign in with a second factor as in AWS: moto then really checks the authenticator codes.
    os.environ["MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP"] = "true"
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    return server


def start_chalice(environment: Mapping[str, str], port: int) -> subprocess.Popen[bytes]:
    chalice = Path(sys.executable).with_name("chalice")
    executable = str(chalice) if chalice.exists() else shutil.which("chalice")
    if executable is None:
        raise StartupError("chalice is not installed: run `make run`, which installs requirements-dev.txt")
    command = [executable, "local", "--stage", "local", "--no-autoreload", "--host", HOST, "--port", str(port)]
    # A session of its own: we stop its whole process group, so nothing is left serving the port; and a
    # terminal's Ctrl-C reaches only us, so the shutdown happens in order.
    return subprocess.Popen(command, cwd=ROOT, env=dict(environment), stderr=subprocess.STDOUT, start_new_session=True)


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = STARTUP_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StartupError(f"chalice local exited with status {process.returncode}; its output is above")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise StartupError(f"chalice local did not answer on port {port} within {timeout:.0f} s")


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue


def start_dispatcher(stack: LocalStack, sqs_client: Any, sns_client: Any) -> tuple[threading.Event, threading.Thread]:
    from app import app  # only now: os.environ holds the app's settings (Powertools reads its own at import)
    from tools.dispatcher import LocalDispatcher

    def lookup(queue_name: str) -> tuple[str, str]:
        queue = stack.queue_for_name(queue_name)
        return queue["Ref"], queue["Arn"]

    def topic_lookup(topic_name: str) -> str:
        return stack.topic_for_name(topic_name)["Ref"]

    dispatcher = LocalDispatcher(app, sqs_client, lookup, sns_client, topic_lookup)
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run_forever, args=(stop,), name="dispatcher", daemon=True)
    thread.start()
    return stop, thread


def stop_thread(stop: threading.Event, thread: threading.Thread) -> None:
    stop.set()
    thread.join(STOP_TIMEOUT_SECONDS * 2)  # lets a batch in progress finish; daemon, so it cannot hold up exit


# --- main ------------------------------------------------------------------------------------------------------


def start_all(
    running: contextlib.ExitStack, shell: Mapping[str, str], ports: Ports
) -> tuple[subprocess.Popen[bytes], DemoMedia]:
    """Start every part, each registering its own stop with ``running``; returns chalice and the demo media."""
    moto_url = f"http://{HOST}:{ports.moto}"
    running.callback(start_moto(ports.moto).stop)
    running.callback(stop_thread, *sms_outbox.start(REGION, SMS_OUTBOX))  # there is no phone here
    running.callback(sns_email.start_email_subscriptions_pending())  # as SNS: an address confirms by its mail
    session = MotoSession(moto_url)
    stack = LocalStack(session)
    stack_env = {
        **stack.create_all(),
        **stack.local_cognito_settings(moto_url),
        PUBLIC_MEDIA_URL_SETTING: stack.local_public_media_url(moto_url),  # what CloudFront serves in AWS
    }

    settings = development_settings(shell)
    photo = DEMO_PHOTO.read_bytes()
    graph = FakeGraphServer(
        settings["WHATSAPP_ACCESS_TOKEN"],
        host=HOST,
        port=ports.fake_graph,
        page_access_token=settings["MESSENGER_PAGE_ACCESS_TOKEN"],
    )
    messenger_photo_url = graph.add_cdn_file(DEMO_CDN_NAME, photo, "image/jpeg")
    with_demo_media(graph).start()
    running.callback(graph.stop)
    fake_x = FakeXServer(
        consumer_key=settings["X_CONSUMER_KEY"],
        consumer_secret=settings["X_CONSUMER_SECRET"],
        access_token=settings["X_ACCESS_TOKEN"],
        access_token_secret=settings["X_ACCESS_TOKEN_SECRET"],
        account_id=settings["X_ACCOUNT_ID"],
        host=HOST,
        port=ports.fake_x,
    )
    x_photo_url = fake_x.add_media(DEMO_X_MEDIA_PATH, photo, "image/jpeg", signed=True)
    fake_x.start()
    running.callback(fake_x.stop)

    environment = app_environment(shell, stack_env, moto_url, graph.graph_api_url, fake_x.base_url)
    environment["SUBSCRIBE_PAGE_URL"] = shell.get("SUBSCRIBE_PAGE_URL") or f"http://{HOST}:{ports.api}/subscribe"
    chalice = start_chalice(environment, ports.api)
    print(f"chalice local started: pid {chalice.pid}, own process group", flush=True)
    running.callback(stop_process_group, chalice)

    os.environ.clear()
    os.environ.update(environment)
    notices.ensure_area_topics(session.client("sns"))  # as the deploy step does in AWS (README, "New-tip notices")
    alert_topics.ensure_alert_topics(session.client("sns"))  # README, "Subscriptions"
    running.callback(stop_thread, *start_dispatcher(stack, session.client("sqs"), session.client("sns")))
    wait_for_port(ports.api, chalice)
    return chalice, DemoMedia(messenger_photo_url=messenger_photo_url, x_photo_url=x_photo_url)


def run(running: contextlib.ExitStack, shell: Mapping[str, str], ports: Ports) -> int:
    """Start everything, say how to use it, then wait; returns the exit status if chalice dies by itself."""
    started = time.monotonic()
    chalice, demo = start_all(running, shell, ports)
    print(banner(ports, os.environ, write_examples(os.environ, demo)), flush=True)
    print(f"Started in {time.monotonic() - started:.1f} s.", flush=True)
    print(READY_LINE, flush=True)
    status = chalice.wait()  # until Ctrl-C or SIGTERM (KeyboardInterrupt), unless chalice dies first
    print(f"chalice local exited with status {status}; stopping", file=sys.stderr, flush=True)
    return 1


_stop_requested_at: list[float] = []  # when Ctrl-C or SIGTERM came: the stop's duration is printed


def _interrupt(signum: int, frame: Any) -> None:
    _stop_requested_at.append(time.monotonic())
    print("Stopping: dispatcher, chalice local, fake APIs, moto …", flush=True)
    raise KeyboardInterrupt


def _ignore_signals() -> None:
    # A second Ctrl-C must not cut the clean-up short: that is how orphans are made.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # logs appear as they happen
    shell = dict(os.environ)
    warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)  # as QUIET_WARNINGS
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    status = 0
    try:
        ports = Ports.from_environment(shell)
        check_ports(ports)
        with contextlib.ExitStack() as running:
            try:
                status = run(running, shell, ports)
            finally:
                _ignore_signals()
    except KeyboardInterrupt:
        pass
    except StartupError as error:
        print(f"make run: {error}", file=sys.stderr, flush=True)
        return 1
    took = f" ({time.monotonic() - _stop_requested_at[0]:.1f} s after the signal)" if _stop_requested_at else ""
    print(f"Sampark stopped{took}.", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
