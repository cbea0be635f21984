"""The page in a real browser: Playwright driving Debian's Chromium (headless) against uvicorn.

Skips when ``/usr/bin/chromium`` or the ``playwright`` package is missing (``.ci/run`` installs
both). Set ``VIEWGEN_SCREENSHOT=path.png`` to keep the screenshot somewhere else than the
test's temporary folder.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("VIEWGEN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if not CHROMIUM.exists():
    pytest.skip(f"browser test needs Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="browser test needs playwright (pip install playwright)")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.helpers.serve import PipelineFactory, StandInDepth, png_bytes, running_server, toy_samples  # noqa: E402
from viewgen.server.app import create_app  # noqa: E402

TIMEOUT_MS = 20_000


def canvas_digest(page) -> str:
    """A digest of the view's pixels (frames change <=> the digest changes)."""
    return page.evaluate("""() => {
        const c = document.getElementById('view');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let h = 2166136261;
        for (let i = 0; i < d.length; i += 7) { h = Math.imul(h ^ d[i], 16777619) >>> 0; }
        return h.toString(16) + ':' + c.width + 'x' + c.height;
    }""")


def wait_for(page, expression: str, arg=None) -> None:
    page.wait_for_function(expression, arg=arg, timeout=TIMEOUT_MS)


def status(page) -> dict:
    return page.evaluate("() => fetch('/api/status').then(r => r.json())")


@contextmanager
def browser_page(url: str, width: int = 1200, height: int = 800):
    """A Chromium page at ``url`` -> ``(page, errors)``: the page's uncaught script errors, as they happen."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url)
            yield page, errors
        finally:
            browser.close()


def test_page_in_a_real_browser(tmp_path):
    factory = PipelineFactory()
    app = create_app(factory, StandInDepth(), samples=toy_samples(), max_sessions=2)
    photo = tmp_path / "meadow.png"
    photo.write_bytes(png_bytes(300, 200))
    text = tmp_path / "notes.png"  # a text file with an image's name: judged by content
    text.write_text("this is not an image\n")
    screenshot = Path(os.environ.get("VIEWGEN_SCREENSHOT", tmp_path / "viewgen-serve.png"))

    with running_server(app) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
            page = context.new_page()
            console_errors = []
            page.on("pageerror", lambda error: console_errors.append(str(error)))
            page.goto(url + "/")

            # The page loads sample 1 by itself (paused, as the original), frame 0 drawn.
            wait_for(page, "() => window.viewgen.frameIndex === 0 && window.viewgen.source === 'coast'")
            assert page.locator("#sample-buttons button").count() == 3
            assert page.locator("#frame-index").inner_text() == "0"
            first = canvas_digest(page)

            # Play: frames arrive and change; counter and frames/s follow.
            page.click("#play")
            wait_for(page, "() => window.viewgen.frameIndex >= 8")
            assert canvas_digest(page) != first
            wait_for(page, "() => parseFloat(document.getElementById('fps').textContent) > 0")
            assert int(page.locator("#frame-index").inner_text()) >= 8

            # Click to steer: the cursor jumps to the click, then decays back toward the centre.
            box = page.locator("#view").bounding_box()
            page.mouse.click(box["x"] + 0.95 * box["width"], box["y"] + 0.5 * box["height"])
            wait_for(page, "() => window.viewgen.cursor[0] > 0.5 && window.viewgen.cursor[0] < 0.9")
            steered = factory.made[0].offsets
            assert max(dx for dx, _ in steered) > 0.85

            # Pause, then Step: exactly one frame.
            page.click("#pause")
            wait_for(page, "() => window.viewgen.playing === false")
            page.wait_for_timeout(300)
            index = page.evaluate("() => window.viewgen.frameIndex")
            page.click("#step")
            wait_for(page, "(i) => window.viewgen.frameIndex === i + 1", arg=index)
            page.wait_for_timeout(300)
            assert page.evaluate("() => window.viewgen.frameIndex") == index + 1

            # Show disparity: a second view appears and is filled.
            page.check("#show-disparity")
            page.click("#step")
            wait_for(page, "(i) => window.viewgen.frameIndex === i + 2", arg=index)
            assert page.locator("#disparity-frame").is_visible()

            # Speed control reaches the server.
            page.locator("#speed").fill("2")
            wait_for(page, "() => document.getElementById('speed-value').textContent.includes('2.00')")

            # Download the flight so far as MP4.
            with page.expect_download(timeout=TIMEOUT_MS) as download_info:
                page.click("#download")
            video = tmp_path / "flight.mp4"
            download_info.value.save_as(video)
            assert video.read_bytes()[4:8] == b"ftyp"

            # Upload a PNG: a new flight from it, frames come.
            page.set_input_files("#upload", str(photo))
            wait_for(page, "() => window.viewgen.source === 'meadow.png' && window.viewgen.frameIndex === 0")
            assert "Loaded meadow.png (300×200)" in page.locator("#message").inner_text()
            page.click("#step")
            page.click("#step")
            wait_for(page, "() => window.viewgen.source === 'meadow.png' && window.viewgen.frameIndex === 2")

            # Upload a text file: refused, the message is shown, the flight is untouched.
            page.set_input_files("#upload", str(text))
            wait_for(page, "() => window.viewgen.lastError.includes('Only PNG and JPEG')")
            message = page.locator("#message")
            assert "this looks like a text file" in message.inner_text()
            assert "error" in message.get_attribute("class")
            assert page.evaluate("() => window.viewgen.source") == "meadow.png"

            # A second tab flies at the same time, independently; a third is told the server is busy.
            page.click("#play")
            second = context.new_page()
            second.goto(url + "/")
            wait_for(second, "() => window.viewgen.frameIndex === 0")
            second.click("#play")
            wait_for(second, "() => window.viewgen.frameIndex >= 5")
            before = page.evaluate("() => window.viewgen.frameIndex")
            wait_for(page, "(i) => window.viewgen.frameIndex > i + 3", arg=before)
            assert status(page)["sessions"] == 2
            third = context.new_page()
            third.goto(url + "/")
            wait_for(third, "() => !document.getElementById('banner').hidden")
            assert "busy" in third.locator("#banner-text").inner_text()
            third.close()

            # Closing a tab mid-flight frees its session; the other keeps flying.
            second.close()
            wait_for(page, "async () => (await fetch('/api/status').then(r => r.json())).sessions === 1")
            before = page.evaluate("() => window.viewgen.frameIndex")
            wait_for(page, "(i) => window.viewgen.frameIndex > i + 3", arg=before)
            page.click("#pause")
            wait_for(page, "() => window.viewgen.playing === false")
            page.click("#restart")
            wait_for(page, "() => window.viewgen.frameIndex === 0")

            # For the screenshot: sample 3 flown a little, steered, the refusal message shown.
            page.locator("#speed").fill("1")
            page.click("button[data-sample='3']")
            wait_for(page, "() => window.viewgen.source === 'mountains' && window.viewgen.frameIndex === 0")
            for index in range(1, 5):
                page.click("#step")
                wait_for(page, "(i) => window.viewgen.frameIndex === i", arg=index)
            box = page.locator("#view").bounding_box()  # the disparity view changed the layout
            page.mouse.click(box["x"] + 0.3 * box["width"], box["y"] + 0.4 * box["height"])
            cursor = page.evaluate("() => window.viewgen.cursor")
            assert abs(cursor[0] - 0.3) < 0.02 and abs(cursor[1] - 0.4) < 0.02
            page.set_input_files("#upload", str(text))
            wait_for(page, "() => document.getElementById('message').textContent.includes('Only PNG and JPEG')")
            page.screenshot(path=str(screenshot), full_page=True)
            assert screenshot.stat().st_size > 10_000
            assert console_errors == []
        finally:
            browser.close()


WINDOWS = ((1280, 720), (1366, 768), (1280, 800))


def assert_in_viewport(page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    assert box is not None and box["height"] > 0, f"{selector} is not shown"
    assert box["x"] >= 0 and box["y"] >= 0, (selector, box)
    assert box["x"] + box["width"] <= size["width"] and box["y"] + box["height"] <= size["height"], \
        (selector, box, size)


def canvas_is_black(page, canvas_id: str) -> bool:
    return page.evaluate("""(id) => {
        const c = document.getElementById(id);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4) { if (d[i] + d[i + 1] + d[i + 2] > 30) return false; }
        return true;
    }""", canvas_id)


def test_messages_keys_and_states_in_a_small_window(tmp_path):
    from viewgen.server.depth import LazyDepth

    note = "The stand-in depth weights are not here: run `viewgen download stand-in` ahead."
    depth = LazyDepth("stand-in", StandInDepth, availability=lambda: (True, note))
    app = create_app(PipelineFactory(size=(160, 256)), depth, samples=toy_samples(), max_sessions=1)
    text = tmp_path / "notes.png"
    text.write_text("this is not an image\n")
    with running_server(app) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 720})
            page = context.new_page()
            page.goto(url + "/")
            wait_for(page, "() => window.viewgen.frameIndex === 0 && window.viewgen.source === 'coast'")
            # The note about the depth weights is visible on load, not only in a tooltip.
            assert "viewgen download stand-in" in page.locator("#upload-note").inner_text()

            # Keys after clicking a button: Space plays/pauses (it does not press Step again), S steps.
            page.click("#step")
            wait_for(page, "() => window.viewgen.frameIndex === 1")
            page.keyboard.press(" ")
            wait_for(page, "() => window.viewgen.playing === true")
            wait_for(page, "() => window.viewgen.frameIndex >= 4")
            wait_for(page, "() => parseFloat(document.getElementById('fps').textContent) > 0")
            page.keyboard.press(" ")
            wait_for(page, "() => window.viewgen.playing === false")
            assert page.locator("#fps").inner_text() == "–"  # no stale rate once paused
            page.wait_for_timeout(300)
            index = page.evaluate("() => window.viewgen.frameIndex")
            page.keyboard.press("s")
            wait_for(page, "(i) => window.viewgen.frameIndex === i + 1", arg=index)
            page.focus("#speed")  # a slider keeps its keys
            page.keyboard.press("s")
            page.wait_for_timeout(400)
            assert page.evaluate("() => window.viewgen.frameIndex") == index + 1
            page.click("#pause", force=True)  # focus on a (disabled) button, then R restarts
            page.keyboard.press("r")
            wait_for(page, "() => window.viewgen.frameIndex === 0")

            # Show disparity while paused: the panel gets the current frame's disparity, not black.
            page.check("#show-disparity")
            wait_for(page, """() => { const c = document.getElementById('disparity');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                for (let i = 0; i < d.length; i += 4) { if (d[i] + d[i + 1] + d[i + 2] > 30) return true; }
                return false; }""")
            assert not canvas_is_black(page, "disparity")

            # A refused upload: the message and the status are on screen in every small window.
            page.set_input_files("#upload", str(text))
            wait_for(page, "() => window.viewgen.lastError.includes('Only PNG and JPEG')")
            for width, height in WINDOWS:
                page.set_viewport_size({"width": width, "height": height})
                for selector in ("#message", "#status", "#upload-note", "#play", "#view"):
                    assert_in_viewport(page, selector)
            page.set_viewport_size({"width": 1280, "height": 720})
            page.screenshot(path=str(tmp_path / "small-window.png"))

            # A second tab is refused (max_sessions=1): its Upload is not offered as enabled.
            busy = context.new_page()
            busy.goto(url + "/")
            wait_for(busy, "() => !document.getElementById('banner').hidden")
            assert "disabled" in busy.locator("#upload-label").get_attribute("class")
            assert busy.locator("#upload").is_disabled()
            assert_in_viewport(busy, "#banner")
        finally:
            browser.close()


def test_the_object_page_turns_an_object_by_dragging(tmp_path):
    from tests.helpers.serve import TinyNovelViews

    app = create_app(PipelineFactory(), StandInDepth(), samples=toy_samples(), novel_view_factory=TinyNovelViews())
    screenshot = Path(os.environ.get("VIEWGEN_OBJECTS_SCREENSHOT", tmp_path / "viewgen-objects.png"))
    with running_server(app) as url, browser_page(url + "/objects") as (page, errors):
        # The first example (the chair) is loaded and its view drawn at its own angles.
        wait_for(page, "() => window.viewgenObjects.viewsShown >= 1")
        assert page.locator("#examples button").count() == 4
        assert page.locator("#object-name").inner_text() == "chair"
        start = page.evaluate("() => [window.viewgenObjects.azimuth, window.viewgenObjects.elevation]")
        shown = page.evaluate("() => window.viewgenObjects.viewsShown")

        # Drag right and down: the camera goes left and up, and a new view arrives.
        box = page.locator("#object-view").bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 100, y + 50, steps=5)
        page.mouse.up()
        wait_for(page, "(n) => window.viewgenObjects.viewsShown > n && !window.viewgenObjects.busy", arg=shown)
        azimuth, elevation = page.evaluate("() => [window.viewgenObjects.azimuth, window.viewgenObjects.elevation]")
        assert (start[0] - azimuth) % 360 == pytest.approx(60, abs=0.5)  # 100 px at 0.6 degrees per px
        assert elevation - start[1] == pytest.approx(30, abs=0.5)
        assert page.locator("#azimuth").inner_text() == f"{azimuth:.1f}"

        # Keys turn by 10 degrees; another example replaces the object.
        page.locator("#object-view").press("ArrowLeft")
        wait_for(page, "(a) => Math.abs(window.viewgenObjects.azimuth - ((a + 10) % 360)) < 1e-6", arg=azimuth)
        page.click("#examples button:nth-child(4)")
        wait_for(page, "() => document.getElementById('object-name').textContent === 'mug'")

        # Spin: the object turns by itself, view after view, until stopped.
        shown = page.evaluate("() => window.viewgenObjects.viewsShown")
        page.click("#spin")
        wait_for(page, "(n) => window.viewgenObjects.viewsShown >= n + 5", arg=shown)
        page.click("#spin")
        assert page.locator("#spin").inner_text() == "Spin"
        page.screenshot(path=str(screenshot))
        assert not errors, errors


def test_remember_the_world_and_fly_back_in_the_page(tmp_path):
    app = create_app(PipelineFactory(), StandInDepth(), samples=toy_samples(), max_sessions=1)
    with running_server(app) as url, browser_page(url + "/") as (page, errors):
        wait_for(page, "() => window.viewgen.frameIndex === 0 && window.viewgen.source === 'coast'")
        assert page.locator("#fly-back").is_disabled()  # nothing flown yet
        # The toggle applies from the next start, and the page says so until then.
        page.check("#remember-world")
        wait_for(page, "() => window.viewgen.rememberWorld && !document.getElementById('world-note').hidden")
        assert "next start" in page.locator("#world-note").inner_text()
        page.click("#restart")
        wait_for(page, "() => window.viewgen.worldMemory && window.viewgen.frameIndex === 0")
        assert page.locator("#world-note").is_hidden()
        for index in range(1, 4):
            page.click("#step")
            wait_for(page, "(i) => window.viewgen.frameIndex === i", arg=index)
        # Fly back: three frames back to frame 0's camera, then the notice with the loop closure.
        page.click("#fly-back")
        wait_for(page, "() => window.viewgen.stopped === true")
        assert page.evaluate("() => window.viewgen.frameIndex") == 6
        message = page.locator("#message").inner_text()
        assert "Back at frame 0's camera after 3 frames out and as many back" in message and "dB PSNR" in message
        assert "with the world remembered" in message
        assert page.locator("#fly-back").is_disabled() and page.locator("#play").is_disabled()
        # Restart flies the autopilot again; B flies back too.
        page.click("#restart")
        wait_for(page, "() => window.viewgen.stopped === false && window.viewgen.frameIndex === 0")
        page.click("#step")
        wait_for(page, "() => window.viewgen.frameIndex === 1")
        page.keyboard.press("b")
        wait_for(page, "() => window.viewgen.stopped === true && window.viewgen.frameIndex === 2")
        assert "after 1 frame out and as many back" in page.locator("#message").inner_text()
        page.screenshot(path=str(tmp_path / "fly-back.png"))
        assert not errors, errors


def test_the_page_flies_infinite_nature_zero(zero_weights, crashing_zero_weights):
    from viewgen.server.zero_flight import shared_pipeline_factory

    apps = [create_app(shared_pipeline_factory(weights)[0], StandInDepth(), samples=toy_samples(),
                       model="infinite-nature-zero") for weights in (zero_weights, crashing_zero_weights)]
    with running_server(apps[0]) as url, running_server(apps[1]) as crashing_url, \
            browser_page(url + "/") as (page, errors):
        # The page names the model and loads sample 1 (frame 0: the 16x16 crop, drawn at twice its size).
        wait_for(page, "() => window.viewgen.frameIndex === 0 && window.viewgen.model === 'infinite-nature-zero'")
        assert page.locator("#model-name").inner_text() == "Infinite Nature Zero"
        # Zero offers "Remember the world" and Fly back too.
        assert page.locator("#remember-label").is_visible()
        assert "cannot fly back" not in page.locator("#fly-back").get_attribute("title")
        first = canvas_digest(page)
        assert first.endswith(":32x32")
        page.click("#play")
        wait_for(page, "() => window.viewgen.frameIndex >= 5")
        assert canvas_digest(page) != first
        page.click("#pause")
        wait_for(page, "() => window.viewgen.playing === false")
        page.keyboard.press("b")  # Fly back: retrace the cameras to frame 0's, then a loop-closure notice
        wait_for(page, "() => window.viewgen.stopped === true")
        assert "out and as many back" in page.locator("#message").inner_text()

        # A crash: the notice is shown, Play and Step wait for a Restart, which flies again.
        page.goto(crashing_url + "/")
        wait_for(page, "() => window.viewgen.frameIndex === 0 && window.viewgen.source === 'coast'")
        page.click("#play")
        wait_for(page, "() => window.viewgen.stopped === true")
        assert "stopped at frame 1, a crash event" in page.locator("#message").inner_text()
        assert page.locator("#play").is_disabled() and page.locator("#step").is_disabled()
        assert page.evaluate("() => window.viewgen.frameIndex") == 1
        page.click("#restart")
        wait_for(page, "() => window.viewgen.stopped === false && window.viewgen.frameIndex === 0")
        assert page.locator("#step").is_enabled()
        assert not errors, errors
