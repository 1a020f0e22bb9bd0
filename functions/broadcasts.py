"""Broadcasts: supervisors alert the subscribers of chosen police areas (SNS fan-out), with a dry run first."""

from chalice import Blueprint, Response

from functions._http import json_body, maps_domain_errors, private_json, signed_in

bp = Blueprint(__name__)


def _broadcasts():
    # Imported on first use: the webhooks share this Lambda and must not pay for PynamoDB on a cold start.
    from shared import broadcasts

    return broadcasts


@bp.route("/broadcasts", methods=["POST"], content_types=["application/json"])
@maps_domain_errors
def create_broadcast() -> Response:
    request = bp.current_request
    principal = signed_in(request)
    if (request.query_params or {}).get("dry_run") == "true":
        return private_json(_broadcasts().dry_run(principal, json_body(request)))
    key = (request.headers or {}).get("idempotency-key")
    return private_json(_broadcasts().create(principal, json_body(request), key), status=202)


@bp.route("/broadcasts", methods=["GET"])
@maps_domain_errors
def list_broadcasts() -> Response:
    return private_json(_broadcasts().list_broadcasts(signed_in(bp.current_request)))


@bp.route("/broadcasts/{broadcast_id}", methods=["GET"])
@maps_domain_errors
def get_broadcast(broadcast_id: str) -> Response:
    return private_json(_broadcasts().get_broadcast(signed_in(bp.current_request), broadcast_id))


@bp.route("/broadcasts/{broadcast_id}/approve", methods=["POST"])
@maps_domain_errors
def approve_broadcast(broadcast_id: str) -> Response:
    return private_json(_broadcasts().approve(signed_in(bp.current_request), broadcast_id))
