"""X webhook: the CRC challenge (GET) and signed Account Activity deliveries (POST)."""

from chalice import Blueprint, Response

from functions._http import maps_domain_errors
from shared import intake
from shared.channels import x
from shared.domain import Channel
from shared.errors import HandshakeRejectedError

bp = Blueprint(__name__)


@bp.route("/webhooks/x", methods=["GET"])
@maps_domain_errors
def answer_x_crc() -> Response:
    crc_token = (bp.current_request.query_params or {}).get("crc_token")
    if not crc_token:
        raise HandshakeRejectedError("crc_token missing")
    return Response(body=x.crc_response(crc_token), status_code=200, headers={"Content-Type": "application/json"})


@bp.route("/webhooks/x", methods=["POST"], content_types=["application/json"])
@maps_domain_errors
def receive_x_delivery() -> Response:
    request = bp.current_request
    x.verify_signature(request.raw_body, request.headers.get(x.SIGNATURE_HEADER))
    intake.accept_delivery(Channel.X, request.raw_body)
    return Response(body="", status_code=200)
