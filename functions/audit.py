"""The audit trail, for admins: who looked at or changed which tip, when."""

from chalice import Blueprint, Response

from functions._http import maps_domain_errors, private_json, signed_in

bp = Blueprint(__name__)


@bp.route("/audit", methods=["GET"])
@maps_domain_errors
def list_audit() -> Response:
    from shared import audit  # on first use, like functions/tips.py

    request = bp.current_request
    entries, after = audit.list_entries(signed_in(request), request.query_params or {})
    return private_json({"entries": [audit.entry_view(entry) for entry in entries], "next": after})
