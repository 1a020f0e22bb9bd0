"""`make run`: all of Sampark on this machine, on an embedded AWS (moto) and a fake Graph API. No cloud, no internet.

One process starts everything, and stops all of it on Ctrl-C or SIGTERM:
- moto in server mode on 127.0.0.1:$MOTO_PORT (default 5000), empty, with the resources of infra/resources.json;
- the fake Graph API on 127.0.0.1:$FAKE_GRAPH_PORT (default 5002): serves a demo photo, records our replies;
- `chalice local` on 127.0.0.1:$PORT (default 8000), a child process: the webhooks;
- the queue-triggered functions, in this process, polled like Lambda's event source mappings (tools.dispatcher).
Each setting comes from the shell when it is set there, else from DEVELOPMENT_SETTINGS. The example delivery it
prints is written to $EXAMPLE_DELIVERY_FILE (default build/example-whatsapp.json).
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

from shared.channels import meta
from shared.channels.sms import INBOUND_TOPIC
from tools.fake_graph import DEMO_MEDIA_ID, DEMO_PHOTO, FakeGraphServer, with_demo_media
from tools.resources import ACCOUNT_ID, LocalStack

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
REGION = "ap-south-1"
READY_LINE = "Sampark is running"
EXAMPLE_DELIVERY_FILE = ROOT / "build" / "example-whatsapp.json"
EXAMPLE_SENDER = "919000000001"  # a made-up Indian mobile number
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

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Ports:
        return cls(
            api=_port(environ, "PORT", 8000),
            moto=_port(environ, "MOTO_PORT", 5000),
            fake_graph=_port(environ, "FAKE_GRAPH_PORT", 5002),
        )

    def named(self) -> dict[str, int]:
        return {"PORT": self.api, "MOTO_PORT": self.moto, "FAKE_GRAPH_PORT": self.fake_graph}


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
        raise StartupError(f"PORT, MOTO_PORT and FAKE_GRAPH_PORT must differ: {named}")
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
    shell: Mapping[str, str], stack_env: Mapping[str, str], moto_url: str, graph_api_url: str
) -> dict[str, str]:
    # Nothing AWS-related is inherited: a profile, endpoint or secret id from the shell must never let local
    # traffic reach a real AWS account.
    environment = {name: value for name, value in shell.items() if not name.startswith("AWS_") and name != "SECRETS_ID"}
    environment.update(development_settings(shell))
    environment["GRAPH_API_URL"] = shell.get("GRAPH_API_URL") or graph_api_url
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


# --- the example delivery ----------------------------------------------------------------------------------


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


def write_example(environment: Mapping[str, str]) -> tuple[Path, str]:
    """Write a fresh example delivery and return its path and X-Hub-Signature-256.

    The path can be changed so that a second instance (the end-to-end test) does not overwrite the file whose
    signature a developer's `make run` printed.
    """
    path = Path(environment.get("EXAMPLE_DELIVERY_FILE") or EXAMPLE_DELIVERY_FILE).resolve()
    body = example_delivery(environment["WHATSAPP_PHONE_NUMBER_ID"], int(time.time()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path, meta.sign(body, environment["META_APP_SECRET"])


def banner(ports: Ports, environment: Mapping[str, str], example: Path, signature: str) -> str:
    api = f"http://{HOST}:{ports.api}"
    moto = environment["AWS_ENDPOINT_URL"]
    fake_graph = f"http://{HOST}:{ports.fake_graph}"
    webhook = f"{api}/webhooks/whatsapp"
    # Short when the curl is pasted where `make run` runs; absolute otherwise.
    body_path = example.relative_to(Path.cwd()) if example.is_relative_to(Path.cwd()) else example
    aws = f"AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws --endpoint-url {moto} --region {REGION}"
    python = Path(sys.executable)
    python = python.relative_to(Path.cwd()) if python.is_relative_to(Path.cwd()) else python
    sms = (
        f"{python} -c \"import boto3, json; boto3.client('sns', endpoint_url='{moto}', region_name='{REGION}', "
        "aws_access_key_id='local', aws_secret_access_key='local').publish("
        f"TopicArn='arn:aws:sns:{REGION}:{ACCOUNT_ID}:{INBOUND_TOPIC}', Message=json.dumps(dict("
        "originationNumber='+919000000002', destinationNumber='+919000000100', messageKeyword='KEYWORD_123456789012', "
        "messageBody='Sand is dug from the Damodar at night', inboundMessageId='local-sms-1')))\""
    )
    return f"""
Sampark, locally
  WhatsApp webhook   GET/POST {webhook}
  AWS (moto)         {moto}   (browse: {moto}/moto-api/)
  Graph API (fake)   {environment["GRAPH_API_URL"]}
  Settings           from your shell, else tools/local_stack.py DEVELOPMENT_SETTINGS

Meta's verification handshake (answers 1158201444):
  curl -i '{webhook}?hub.mode=subscribe&hub.verify_token={environment["META_VERIFY_TOKEN"]}&hub.challenge=1158201444'

A signed delivery: a text in Hindi and English and a photo from one sender (sending it again changes nothing):
  curl -i -X POST {webhook} -H 'Content-Type: application/json' -H 'X-Hub-Signature-256: {signature}' \
--data-binary @{body_path}

An inbound SMS, published to SNS as AWS End User Messaging does (publishing it again changes nothing):
  {sms}

What happened:
  make tips MOTO_PORT={ports.moto}   the tips, newest first; their photos saved under build/local-media/
  curl -s {fake_graph}/_fake/replies    the replies citizens got (each carries the tip's reference)
  {aws} dynamodb scan --table-name {environment["TIPS_TABLE_NAME"]}    (with the AWS CLI)

Ctrl-C stops everything.
"""


# --- the processes and threads ---------------------------------------------------------------------------------


def start_moto(port: int) -> Any:
    from moto.server import ThreadedMotoServer  # imported here: it takes half a second

    # Werkzeug logs every request, and the dispatcher polls three queues five times a second.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
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


def start_all(running: contextlib.ExitStack, shell: Mapping[str, str], ports: Ports) -> subprocess.Popen[bytes]:
    """Start every part, each registering its own stop with ``running``; returns the chalice process."""
    moto_url = f"http://{HOST}:{ports.moto}"
    running.callback(start_moto(ports.moto).stop)
    session = MotoSession(moto_url)
    stack = LocalStack(session)
    stack_env = stack.create_all()

    graph = FakeGraphServer(development_settings(shell)["WHATSAPP_ACCESS_TOKEN"], host=HOST, port=ports.fake_graph)
    with_demo_media(graph).start()
    running.callback(graph.stop)

    environment = app_environment(shell, stack_env, moto_url, graph.graph_api_url)
    chalice = start_chalice(environment, ports.api)
    print(f"chalice local started: pid {chalice.pid}, own process group", flush=True)
    running.callback(stop_process_group, chalice)

    os.environ.clear()
    os.environ.update(environment)
    running.callback(stop_thread, *start_dispatcher(stack, session.client("sqs"), session.client("sns")))
    wait_for_port(ports.api, chalice)
    return chalice


def run(running: contextlib.ExitStack, shell: Mapping[str, str], ports: Ports) -> int:
    """Start everything, say how to use it, then wait; returns the exit status if chalice dies by itself."""
    started = time.monotonic()
    chalice = start_all(running, shell, ports)
    example, signature = write_example(os.environ)
    print(banner(ports, os.environ, example, signature), flush=True)
    print(f"Started in {time.monotonic() - started:.1f} s.", flush=True)
    print(READY_LINE, flush=True)
    status = chalice.wait()  # until Ctrl-C or SIGTERM (KeyboardInterrupt), unless chalice dies first
    print(f"chalice local exited with status {status}; stopping", file=sys.stderr, flush=True)
    return 1


def _interrupt(signum: int, frame: Any) -> None:
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
    print("Sampark stopped.", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
