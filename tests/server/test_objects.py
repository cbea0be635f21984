"""The object mode of ``viewgen serve``: examples and uploads become scenes, views at any angles, bad input in one
line, the model built once on first use."""

import io

import pytest
from PIL import Image

from tests.helpers.serve import TinyNovelViews, make_client, png_bytes

pytest.importorskip("fastapi")


@pytest.fixture
def client_and_factory():
    factory = TinyNovelViews()
    with make_client(novel_view_factory=factory) as client:
        yield client, factory


def _view(client, scene_id, azimuth, elevation):
    return client.get(f"/api/objects/{scene_id}/view.png", params={"azimuth": azimuth, "elevation": elevation})


def test_an_example_turns_to_any_angle_the_same_every_time(client_and_factory):
    client, factory = client_and_factory
    page = client.get("/objects")
    assert page.status_code == 200 and "objects.js" in page.text
    info = client.get("/api/objects").json()
    assert info == {"image_size": [32, 32], "examples": ["chair", "table", "car", "mug"]}
    scene = client.post("/api/objects/examples/car").json()
    assert scene["name"] == "car" and set(scene) == {"id", "name", "azimuth", "elevation"}
    source = client.get(f"/api/objects/{scene['id']}/source.png")
    assert Image.open(io.BytesIO(source.content)).size == (32, 32)
    first = _view(client, scene["id"], scene["azimuth"] + 90, 30)
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    assert float(first.headers["x-render-ms"]) > 0
    assert Image.open(io.BytesIO(first.content)).size == (32, 32)
    assert _view(client, scene["id"], scene["azimuth"] + 90, 30).content == first.content
    assert _view(client, scene["id"], scene["azimuth"] - 90, 30).content != first.content
    assert factory.calls == 1  # built once, on first use


def test_an_upload_with_its_angles_becomes_a_scene(client_and_factory):
    client, _ = client_and_factory
    answer = client.post("/api/objects/upload", params={"azimuth": 15, "elevation": 25, "name": "cup.png"},
                         content=png_bytes(90, 60))
    assert answer.status_code == 200, answer.text
    scene = answer.json()
    assert (scene["name"], scene["azimuth"], scene["elevation"]) == ("cup.png", 15.0, 25.0)
    assert _view(client, scene["id"], 40, 10).status_code == 200
    multipart = client.post("/api/objects/upload", params={"azimuth": 15, "elevation": 25},
                            files={"file": ("mug.png", png_bytes(90, 60), "image/png")})
    assert multipart.status_code == 200 and multipart.json()["name"] == "mug.png"


@pytest.mark.parametrize("call, status, needle", [
    (lambda c: c.post("/api/objects/examples/plane"), 404, "unknown example object 'plane'"),
    (lambda c: c.get("/api/objects/nope/view.png", params={"azimuth": 1, "elevation": 2}), 404,
     "no longer held by the server"),
    (lambda c: c.get("/api/objects/nope/source.png"), 404, "no longer held by the server"),
    (lambda c: c.post("/api/objects/upload", params={"azimuth": "north", "elevation": 2}, content=png_bytes()), 400,
     "azimuth must be a number of degrees"),
    (lambda c: c.post("/api/objects/upload", params={"azimuth": 1, "elevation": 2}, content=b"GIF89a..."), 415,
     "Only PNG and JPEG"),
])
def test_bad_requests_get_one_line(client_and_factory, call, status, needle):
    client, _ = client_and_factory
    answer = call(client)
    assert answer.status_code == status and needle in answer.json()["detail"]


def test_bad_angles_of_a_view_and_the_oldest_scenes_are_dropped(client_and_factory):
    client, _ = client_and_factory
    scene = client.post("/api/objects/examples/1").json()
    answer = _view(client, scene["id"], "nan", 0)
    assert answer.status_code == 400 and "elevation" not in answer.json()["detail"]
    assert "azimuth must be a number of degrees within +-1e+06, got 'nan'" in answer.json()["detail"]
    huge = _view(client, scene["id"], 0, 1e300)
    assert huge.status_code == 400 and "elevation must be a number of degrees" in huge.json()["detail"]
    objects = client.app.state.server.objects
    objects.max_scenes = 2
    later = [client.post("/api/objects/examples/mug").json() for _ in range(2)]
    assert _view(client, scene["id"], 0, 0).status_code == 404  # dropped: least recently used
    assert all(_view(client, item["id"], 0, 0).status_code == 200 for item in later)


def test_a_missing_model_is_said_on_the_page():
    def broken():
        raise FileNotFoundError("the embedded ENR model is missing from this install")

    with make_client(novel_view_factory=broken) as client:
        answer = client.get("/api/objects")
        assert answer.status_code == 503 and "embedded ENR model is missing" in answer.json()["detail"]


def test_requests_beyond_the_waiting_places_are_told_to_retry(client_and_factory):
    client, _ = client_and_factory
    scene = client.post("/api/objects/examples/chair").json()
    objects = client.app.state.server.objects
    with objects.admitted(), objects.admitted(), objects.admitted(), objects.admitted():  # all 4 places taken
        busy = _view(client, scene["id"], 10, 10)
        upload = client.post("/api/objects/upload", params={"azimuth": 1, "elevation": 2}, content=png_bytes())
    assert busy.status_code == 503 and "busy" in busy.json()["detail"]
    assert upload.status_code == 503
    assert _view(client, scene["id"], 10, 10).status_code == 200  # places free again
