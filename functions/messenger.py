"""Facebook Messenger webhook: Meta's handshake (GET) and signed deliveries (POST)."""

from chalice import Blueprint, Response

from functions._http import maps_domain_errors
from shared import intake
from shared.channels import meta
from shared.domain import Channel

bp = Blueprint(__name__)


@bp.route("/webhooks/messenger", methods=["GET"])
@maps_domain_errors
def verify_messenger_subscription() -> Response:
    challenge = meta.verify_subscription(bp.current_request.query_params or {})
    return Response(body=challenge, status_code=200, headers={"Content-Type": "text/plain"})


@bp.route("/webhooks/messenger", methods=["POST"], content_types=["application/json"])
@maps_domain_errors
def receive_messenger_delivery() -> Response:
    request = bp.current_request
    meta.verify_signature(request.raw_body, request.headers.get(meta.SIGNATURE_HEADER))
    intake.accept_delivery(Channel.MESSENGER, request.raw_body)
    return Response(body="", status_code=200)  # Meta counts anything but exactly 200 as a failure
