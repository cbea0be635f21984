"""The object mode's HTTP routes (``/objects``; see :mod:`viewgen.server.objects`).

* ``GET /objects``: the page (``static/objects.html``).
* ``GET /api/objects``: the model's image size and the example names.
* ``POST /api/objects/examples/{key}``: the scene of an example -> ``{id, name, azimuth, elevation}``.
* ``POST /api/objects/upload?azimuth=A&elevation=E[&name=N]``: the scene of an uploaded PNG/JPEG
  (raw bytes, or one file of a multipart form, as the main upload) taken from those camera angles.
* ``GET /api/objects/{id}/source.png``: the input as the model sees it.
* ``GET /api/objects/{id}/view.png?azimuth=A&elevation=E``: the view from those absolute angles
  (``X-Render-Ms``: the time of the rotate + render).

Errors are ``{"detail": message}``: 400 for bad angles or images, 404 for an unknown example or a
scene the server no longer holds, 413/415 for uploads it refuses, 503 when the model cannot be
loaded or too many requests wait for it already.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from viewgen.errors import one_line
from viewgen.geometry.rotations import finite_degrees
from viewgen.server.http_routes import error_response
from viewgen.server.objects import ObjectsBusy
from viewgen.server.upload_route import read_upload
from viewgen.server.uploads import UploadError, decode_upload

__all__ = ["router"]

router = APIRouter()
SCENE_GONE = "This object is no longer held by the server; pick it again."


def _state(request: Request):
    return request.app.state.server


async def _call(request: Request, function, *args):
    """Run an ENR call on the worker threads; model-loading failures become 503 and bad input 400."""
    state = _state(request)
    try:
        return await state.in_worker(function, *args)
    except (FileNotFoundError, ImportError, RuntimeError) as error:
        return error_response(503, f"The object model could not run: {one_line(error)}")
    except ValueError as error:
        return error_response(400, one_line(error))


@router.get("/objects", response_class=HTMLResponse)
async def objects_page(request: Request) -> HTMLResponse:
    return HTMLResponse(_state(request).objects_html)


@router.get("/api/objects")
async def objects_info(request: Request):
    return await _call(request, _state(request).objects.info)


@router.post("/api/objects/examples/{key}")
async def add_example(key: str, request: Request):
    from viewgen.data.objects.examples import example_index

    objects = _state(request).objects
    try:
        example_index(key)
        with objects.admitted():
            return await _call(request, objects.add_example, key)
    except ObjectsBusy as error:
        return error_response(503, str(error))
    except ValueError as error:
        return error_response(404, one_line(error))


@router.post("/api/objects/upload")
async def add_upload(request: Request, azimuth: str = "", elevation: str = ""):
    state = _state(request)
    try:
        angles = finite_degrees(azimuth, "azimuth"), finite_degrees(elevation, "elevation")
    except ValueError as error:
        return error_response(400, f"{one_line(error)} (the camera angles the photo was taken from)")
    try:
        with state.objects.admitted():  # before the body is read: a flood of uploads is refused, not buffered
            data, name = await read_upload(request, state.max_upload_bytes)  # raw bytes or one multipart file
            rgb = await state.in_worker(lambda: decode_upload(data, max_bytes=state.max_upload_bytes,
                                                               max_pixels=state.max_upload_pixels))
            return await _call(request, state.objects.add, rgb, *angles, name)
    except ObjectsBusy as error:
        return error_response(503, str(error))
    except UploadError as error:
        return error_response(error.status, str(error))


@router.get("/api/objects/{scene_id}/source.png")
async def source_png(scene_id: str, request: Request) -> Response:
    scene = _state(request).objects.get(scene_id)
    if scene is None:
        return error_response(404, SCENE_GONE)
    return Response(scene.source_png(), media_type="image/png")


@router.get("/api/objects/{scene_id}/view.png")
async def view_png(scene_id: str, request: Request, azimuth: str = "", elevation: str = "") -> Response:
    objects = _state(request).objects
    try:
        angles = finite_degrees(azimuth, "azimuth"), finite_degrees(elevation, "elevation")
        with objects.admitted():
            result = await _call(request, objects.view, scene_id, *angles)
    except ObjectsBusy as error:
        return error_response(503, str(error))
    except ValueError as error:
        return error_response(400, one_line(error))
    if isinstance(result, JSONResponse):
        return result
    if result is None:
        return error_response(404, SCENE_GONE)
    data, elapsed_ms = result
    return Response(data, media_type="image/png", headers={"X-Render-Ms": f"{elapsed_ms:.1f}"})
