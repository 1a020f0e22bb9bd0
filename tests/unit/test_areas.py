"""Police areas: the packaged default list, another district's file, and the nearest area to a location."""

import json

import pytest

from shared import areas
from shared.errors import ConfigurationError


@pytest.fixture(autouse=True)
def _fresh_areas():
    areas.all_areas.cache_clear()
    yield
    areas.all_areas.cache_clear()


def test_the_default_is_dhanbad_packaged_with_the_code():
    listed = areas.all_areas()
    assert len(listed) == 52
    assert {"dhanbad-thana", "bank-more", "saraidhela"} <= {area.id for area in listed}
    assert areas.DEFAULT_AREAS_FILE.is_relative_to(areas.Path(areas.__file__).parent)  # inside shared/: packaged


@pytest.mark.parametrize(
    ("latitude", "longitude", "expected"),
    [
        (23.7957, 86.4304, "dhanbad-thana"),  # a named place in the town (WhatsApp location_named.json)
        (23.8143, 86.4412, "saraidhela"),  # a dropped pin (location_pin.json)
        (23.788, 86.419, "bank-more"),  # on the station itself
        (22.5726, 88.3639, None),  # Kolkata: outside the district
    ],
)
def test_nearest_area(latitude, longitude, expected):
    area = areas.nearest_area(latitude, longitude)
    assert (area.id if area else None) == expected


def test_another_district_supplies_its_own_file(tmp_path, monkeypatch):
    document = {
        "areas": [
            {"id": "a", "name_en": "A", "name_hi": "ए", "subdivision_id": "s", "lat": 10.0, "lon": 10.0},
            {"id": "b", "name_en": "B", "name_hi": "बी", "subdivision_id": "s", "lat": 10.1, "lon": 10.1},
        ]
    }
    path = tmp_path / "areas.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("POLICE_AREAS_FILE", str(path))
    assert [area.id for area in areas.all_areas()] == ["a", "b"]
    assert areas.nearest_area(10.09, 10.09).id == "b"


@pytest.mark.parametrize(
    "content",
    [
        '{"areas": []}',
        '{"areas": [{"id": "a"}]}',
        "not json",
        '{"areas": [{"id": "a", "name_en": "A", '
        '"name_hi": "ए", "subdivision_id": "s", "lat": 1, "lon": 1}, {"id": "a", "name_en": "A", "name_hi": "ए", '
        '"subdivision_id": "s", "lat": 2, "lon": 2}]}',
    ],
    ids=["empty", "missing-fields", "not-json", "duplicate-ids"],
)
def test_a_broken_file_is_a_configuration_error(tmp_path, monkeypatch, content):
    path = tmp_path / "areas.json"
    path.write_text(content, encoding="utf-8")
    monkeypatch.setenv("POLICE_AREAS_FILE", str(path))
    with pytest.raises(ConfigurationError):
        areas.all_areas()
