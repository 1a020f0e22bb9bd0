"""Officers' tip triage API: list, open, triage, annotate, and ask the informant. Sign-in on every route."""

from chalice import Blueprint, Response

from functions._http import json_body, maps_domain_errors, private_json, signed_in

bp = Blueprint(__name__)


def _triage():
    # Imported on first use: the webhooks share this Lambda and must not pay for PynamoDB on a cold start.
    from shared import triage

    return triage


@bp.route("/tips", methods=["GET"])
@maps_domain_errors
def list_tips() -> Response:
    request = bp.current_request
    return private_json(_triage().list_tips(signed_in(request), request.query_params or {}))


@bp.route("/tips/{tip_id}", methods=["GET"])
@maps_domain_errors
def open_tip(tip_id: str) -> Response:
    return private_json(_triage().open_tip(signed_in(bp.current_request), tip_id))


@bp.route("/tips/{tip_id}", methods=["PATCH"], content_types=["application/json"])
@maps_domain_errors
def update_tip(tip_id: str) -> Response:
    request = bp.current_request
    principal = signed_in(request)
    return private_json(_triage().update_tip(principal, tip_id, json_body(request)))


@bp.route("/tips/{tip_id}/notes", methods=["POST"], content_types=["application/json"])
@maps_domain_errors
def add_note(tip_id: str) -> Response:
    request = bp.current_request
    principal = signed_in(request)
    return private_json(_triage().add_note(principal, tip_id, json_body(request)), status=201)


@bp.route("/tips/{tip_id}/messages", methods=["POST"], content_types=["application/json"])
@maps_domain_errors
def ask_informant(tip_id: str) -> Response:
    request = bp.current_request
    principal = signed_in(request)
    return private_json(_triage().ask_informant(principal, tip_id, json_body(request)), status=202)


@bp.route("/tips/{tip_id}/media/{media_key}/original", methods=["GET"])
@maps_domain_errors
def original_media(tip_id: str, media_key: str) -> Response:
    return private_json(_triage().original_media_link(signed_in(bp.current_request), tip_id, media_key))
