"""Police areas (thanas and outposts) of the district, and the nearest one to a location.

The default list is Dhanbad's (shared/data/dhanbad-police-areas.json, compiled from public reports: its
``source_notes`` say how reliable each part is). Another district supplies its own file of the same shape through
``POLICE_AREAS_FILE``.
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from shared.errors import ConfigurationError

DEFAULT_AREAS_FILE = Path(__file__).parent / "data" / "dhanbad-police-areas.json"
_EARTH_RADIUS_KM = 6371.0
# A location farther than this from every station is outside the district: the tip stays without an area.
MAX_DISTANCE_KM = 25.0


@dataclass(frozen=True, kw_only=True)
class Area:
    id: str
    name_en: str
    name_hi: str
    subdivision_id: str
    lat: float
    lon: float

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name_en": self.name_en,
            "name_hi": self.name_hi,
            "subdivision_id": self.subdivision_id,
            "lat": self.lat,
            "lon": self.lon,
        }


@functools.cache
def all_areas() -> tuple[Area, ...]:
    """The district's areas, read once from the configured file."""
    path = Path(os.environ.get("POLICE_AREAS_FILE") or DEFAULT_AREAS_FILE)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        areas = tuple(
            Area(
                id=str(item["id"]),
                name_en=str(item["name_en"]),
                name_hi=str(item["name_hi"]),
                subdivision_id=str(item["subdivision_id"]),
                lat=float(item["lat"]),
                lon=float(item["lon"]),
            )
            for item in document["areas"]
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigurationError(f"police areas file {path.name} is unreadable: {type(error).__name__}") from error
    if not areas or len({area.id for area in areas}) != len(areas):
        raise ConfigurationError(f"police areas file {path.name} must list areas with unique ids")
    return areas


def nearest_area(latitude: float, longitude: float) -> Area | None:
    """The area whose station is closest (great-circle distance), if the point is within the district's reach."""
    distance, area = min((_distance_km(latitude, longitude, a.lat, a.lon), a) for a in all_areas())
    return area if distance <= MAX_DISTANCE_KM else None


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def find_area(area_id: str) -> Area | None:
    return next((area for area in all_areas() if area.id == area_id), None)


# "Dhanbad thana", "धनबाद थाना", "Bank More police station": the words people add to a station's name.
_STATION_WORDS = ("police station", "thana", "ps", "op", "थाना", "ओपी")


def find_area_by_name(text: str) -> Area | None:
    """The area a citizen names: its id, or its English or Hindi name (any case, spacing or hyphenation)."""
    wanted = _name_key(text)
    for word in map(_name_key, _STATION_WORDS):
        if wanted.endswith(word) and wanted != word:
            wanted = wanted.removesuffix(word)
    return next(
        (
            area
            for area in all_areas()
            if wanted in (_name_key(area.id), _name_key(area.name_en), _name_key(area.name_hi))
        ),
        None,
    )


def _name_key(text: str) -> str:
    return "".join(
        character for character in text.casefold() if character.isalnum() or "\u0900" <= character <= "\u097f"
    )
