"""Public list of the district's police areas."""

from chalice import Blueprint

from functions._http import maps_domain_errors
from shared import areas

bp = Blueprint(__name__)


@bp.route("/areas", methods=["GET"])
@maps_domain_errors
def list_areas() -> dict[str, object]:
    return {"areas": [area.public() for area in areas.all_areas()]}
