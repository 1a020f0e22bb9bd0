"""Broadcasts: supervisors alert the subscribers of chosen police areas (SNS fan-out). For now, the dry run."""

from chalice import Blueprint, Response

from functions._http import json_body, maps_domain_errors, private_json, signed_in
from shared.errors import InvalidRequestError

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
    if (request.query_params or {}).get("dry_run") != "true":
        raise InvalidRequestError("only ?dry_run=true is available yet: sending comes with the rest of the issue")
    return private_json(_broadcasts().dry_run(principal, json_body(request)))
