"""Wanted notices: a public gallery, and supervisors' routes to publish and close notices."""

from chalice import Blueprint, CORSConfig, Response

from functions._http import json_body, json_response, maps_domain_errors, private_json, signed_in

bp = Blueprint(__name__)

# The gallery is public and may be shown on the police website: any origin may read it, nothing else.
PUBLIC = CORSConfig(allow_origin="*", max_age=600)


def _wanted():
    # Imported on first use: the webhooks share this Lambda and must not pay for PynamoDB on a cold start.
    from shared import wanted

    return wanted


def _public_json(body: object) -> Response:
    return json_response(body, cache="public, max-age=60")


@bp.route("/wanted", methods=["GET"], cors=PUBLIC)
@maps_domain_errors
def list_wanted() -> Response:
    return _public_json(_wanted().public_list(bp.current_request.query_params or {}))


@bp.route("/wanted/{wanted_id}", methods=["GET"], cors=PUBLIC)
@maps_domain_errors
def get_wanted(wanted_id: str) -> Response:
    request = bp.current_request
    if (request.headers or {}).get("authorization"):  # a supervisor also sees how the photo upload went
        return private_json(_wanted().notice_for(signed_in(request), wanted_id))
    return _public_json(_wanted().public_notice(wanted_id))


@bp.route("/wanted", methods=["POST"], content_types=["application/json"])
@maps_domain_errors
def create_wanted() -> Response:
    request = bp.current_request
    principal = signed_in(request)
    return private_json(_wanted().create_notice(principal, json_body(request)), status=201)


@bp.route("/wanted/{wanted_id}", methods=["PATCH"], content_types=["application/json"])
@maps_domain_errors
def update_wanted(wanted_id: str) -> Response:
    request = bp.current_request
    principal = signed_in(request)
    return private_json(_wanted().update_notice(principal, wanted_id, json_body(request)))


@bp.route("/wanted/{wanted_id}/photo", methods=["POST"])
@maps_domain_errors
def new_photo_upload(wanted_id: str) -> Response:
    return private_json(_wanted().new_upload(signed_in(bp.current_request), wanted_id), status=201)
