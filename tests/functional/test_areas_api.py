"""GET /areas, and tips placed in the area nearest to their location."""

from tests.helpers import post_whatsapp, tips


def test_areas_are_public_with_exactly_the_documented_fields(api):
    response = api.http.get("/areas")
    assert response.status_code == 200
    listed = response.json_body["areas"]
    assert len(listed) == 52
    assert {tuple(sorted(area)) for area in listed} == {("id", "lat", "lon", "name_en", "name_hi", "subdivision_id")}
    bank_more = next(area for area in listed if area["id"] == "bank-more")
    assert (bank_more["name_hi"], bank_more["subdivision_id"]) == ("बैंक मोड़", "dhanbad-hq")


def test_a_tip_with_a_location_gets_the_nearest_area(api, dispatcher, fake_graph, aws):
    post_whatsapp(api, "location_pin")
    dispatcher.drain()
    [tip] = tips(aws)
    assert tip["area_id"]["S"] == "saraidhela"
    assert tip["area_status"]["S"] == "saraidhela#new"


def test_a_tip_without_a_location_has_no_area_and_is_listed_under_none(api, dispatcher, fake_graph, aws):
    post_whatsapp(api, "followup_text")
    dispatcher.drain()
    [tip] = tips(aws)
    assert "area_id" not in tip
    assert tip["area_status"]["S"] == "none#new"


def test_a_location_sent_after_the_text_places_the_open_tip(api, dispatcher, fake_graph, aws):
    # GIVEN a text, then (same sender, within the window) a dropped pin in Saraidhela
    import json

    from tests.conftest import load_event

    text = json.loads(load_event("whatsapp", "location_pin"))
    value = text["entry"][0]["changes"][0]["value"]
    message = value["messages"][0]
    first = json.loads(json.dumps(text))
    first_message = first["entry"][0]["changes"][0]["value"]["messages"][0]
    first_message.update(id=message["id"] + "0", type="text", text={"body": "Stolen bike parked here"})
    first_message.pop("location")
    post_whatsapp(api, json.dumps(first).encode())
    dispatcher.drain()
    post_whatsapp(api, "location_pin")
    dispatcher.drain()
    [tip] = tips(aws)
    assert tip["area_id"]["S"] == "saraidhela"
