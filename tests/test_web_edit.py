"""The page's shots editor and "Extend" button in a real browser (Debian's chromium) against a real `kadr serve`.

Shots: add, reorder and remove shots (each with prompt, duration and camera), create, and the video made
has the shots' lengths. Extend: open a finished video, add seconds with a prompt, and the new video is the
whole, longer one. Only what the chosen model can do is offered; what it cannot is shown disabled, saying
why (the model's `features` from GET /v1/models).
"""

from __future__ import annotations

import io
import json

import av
import httpx
import numpy as np
import pytest

from conftest import wait_until
from web_fixtures import save_screenshot
from web_fixtures import studio_browser, studio_server  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.slow


def _frames(api: httpx.Client, video_id: str) -> np.ndarray:
    data = api.get(f"/v1/videos/{video_id}/content").content
    with av.open(io.BytesIO(data)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])  # (F, H, W, 3)


def _completed(api: httpx.Client, video_id: str, timeout: float = 240) -> dict:
    def done():
        video = api.get(f"/v1/videos/{video_id}").json()
        return video if video["status"] in ("completed", "failed") else None

    video = wait_until(done, timeout, f"{video_id} to finish")
    assert video["status"] == "completed", video["error"]
    return video


def _signed_in(studio_server, studio_browser, locale: str = "en-US"):
    context = studio_browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    context.add_init_script(f"localStorage.setItem('kadr.apiKey', {studio_server.key!r})")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def _shot_prompts(page) -> list[str]:
    return page.eval_on_selector_all("#shots-list .shot .shot-prompt", "nodes => nodes.map(n => n.value)")


def test_shots_editor_adds_reorders_removes_and_makes_the_video(studio_server, studio_browser):
    api = httpx.Client(base_url=studio_server.base, headers={"Authorization": f"Bearer {studio_server.key}"}, timeout=30)
    context, page, errors = _signed_in(studio_server, studio_browser)
    sent: list[dict] = []
    page.on("request", lambda req: sent.append(json.loads(req.post_data)) if req.method == "POST"
            and req.url.endswith("/v1/videos") else None)
    try:
        page.goto(studio_server.base + "/")
        page.wait_for_selector("#app:not([hidden])")
        page.wait_for_function("document.querySelector('#shots').dataset.available === 'true'")
        assert page.locator("#shots-list").is_hidden()  # no shots: one video as before
        for prompt, seconds, camera in (("a beach by day", "1", "static"), ("a forest at dusk", "2", "pan_left"),
                                        ("a city at night", "1", "zoom_in")):
            page.click("#shot-add")
            row = page.locator("#shots-list .shot").last
            row.locator(".shot-prompt").fill(prompt)
            row.locator(".shot-duration").fill(seconds)
            row.locator(".shot-camera").select_option(camera)
        assert _shot_prompts(page) == ["a beach by day", "a forest at dusk", "a city at night"]
        assert page.locator("#shots-total").inner_text() == "4 s in all"
        assert page.locator("#duration").is_disabled()  # the shots set the length
        # Reorder: the third shot up, then the (now) first one down; remove the middle one.
        page.get_by_label("Move shot 3 up").click()
        assert _shot_prompts(page) == ["a beach by day", "a city at night", "a forest at dusk"]
        page.get_by_label("Move shot 1 down").click()
        assert _shot_prompts(page) == ["a city at night", "a beach by day", "a forest at dusk"]
        assert page.get_by_label("Move shot 1 up").is_disabled() and page.get_by_label("Move shot 3 down").is_disabled()
        page.get_by_label("Remove shot 2").click()
        assert _shot_prompts(page) == ["a city at night", "a forest at dusk"]
        assert page.locator("#shots-total").inner_text() == "3 s in all"
        page.locator("#shots").scroll_into_view_if_needed()
        save_screenshot(page, "12-shots")
        # An empty shot is refused on the page, naming it.
        page.click("#shot-add")
        page.click("#submit")
        assert page.locator("#form-error").inner_text() == "Shot 3 needs a prompt."
        page.get_by_label("Remove shot 3").click()

        page.click("#submit")
        page.wait_for_function("document.querySelector('#queue-list').children.length > 0")
        body = sent[-1]
        assert body["shots"] == [{"prompt": "a city at night", "duration": 1, "camera": "zoom_in"},
                                 {"prompt": "a forest at dusk", "duration": 2, "camera": "pan_left"}]
        assert body["transition"] == "cut" and "seconds" not in body
        video_id = page.locator("#queue-list .job").first.get_attribute("data-id")
        video = _completed(api, video_id)
        assert video["seconds"] == "3"
        frames = _frames(api, video_id)
        assert frames.shape[0] == 3 * video["fps"]  # the shots' lengths add up, to the frame
        # "Again with these settings" puts the shots back in the editor.
        page.get_by_label("Remove shot 2").click()
        page.get_by_label("Remove shot 1").click()
        page.click(f'#gallery-grid .card[data-id="{video_id}"] .act-again')
        page.wait_for_function("document.querySelectorAll('#shots-list .shot').length === 2")
        assert _shot_prompts(page) == ["a city at night", "a forest at dusk"]
        assert page.locator("#shots-list .shot-camera").nth(1).input_value() == "pan_left"

        # Image to video takes no shots: the editor says why and offers none.
        page.click('label:has(input[name="mode"][value="image"])')
        assert page.locator("#shots-why").inner_text().startswith("Shots are for text to video")
        assert page.locator("#shot-add").is_disabled() and page.locator("#shots-list").is_hidden()
    finally:
        api.close()
        context.close()
    assert errors == [], errors


def test_a_model_that_cannot_make_shots_is_not_offered_them(studio_server, studio_browser):
    """The page reads what the model can do from GET /v1/models: here the answer is changed to say no shots."""
    context, page, errors = _signed_in(studio_server, studio_browser, locale="ru-RU")

    def without_shots(route):
        models = route.fetch().json()
        for model in models["data"]:
            model["features"] = [f for f in model.get("features", []) if f != "shots"]
        route.fulfill(json=models)

    page.route("**/v1/models", without_shots)
    try:
        page.goto(studio_server.base + "/")
        page.wait_for_selector("#app:not([hidden])")
        page.wait_for_function("document.querySelector('#shots-why').textContent.includes('не умеет')")
        assert page.locator("#shots-why").inner_text() == "kadr-tiny не умеет делать несколько сцен в одном видео."
        assert page.locator("#shot-add").is_disabled()
    finally:
        context.close()
    assert errors == [], errors


def test_extend_a_finished_video_from_the_player(studio_server, studio_browser):
    api = httpx.Client(base_url=studio_server.base, headers={"Authorization": f"Bearer {studio_server.key}"}, timeout=30)
    source = api.post("/v1/videos", json={"prompt": "waves on a sunny beach", "seconds": 1, "size": "64x64", "fps": 8,
                                          "seed": 4}).json()
    _completed(api, source["id"])
    context, page, errors = _signed_in(studio_server, studio_browser)
    try:
        page.goto(studio_server.base + "/")
        page.wait_for_selector(f'#gallery-grid .card[data-id="{source["id"]}"]')
        page.click(f'#gallery-grid .card[data-id="{source["id"]}"] .poster')
        page.wait_for_selector("#player[open]")
        extend = page.locator('#player [data-act="extend"]')
        page.wait_for_function("!document.querySelector('#player [data-act=extend]').disabled")
        assert page.locator("#extend-form").is_hidden()
        extend.click()
        page.fill("#extend-seconds", "2")
        page.fill("#extend-prompt", "the waves grow bigger")
        assert page.locator("#extend-submit").inner_text() == "Extend by 2 s"
        save_screenshot(page, "13-extend")
        page.click("#extend-submit")
        page.wait_for_function("!document.querySelector('#player').open")  # the dialog closes when it is queued
        longer = wait_until(lambda: next((v for v in api.get("/v1/videos").json()["data"]
                                     if (v.get("source") or {}).get("video_id") == source["id"]), None), 30,
                       "the extension to be listed")
        assert longer["source"]["kind"] == "extend" and longer["prompt"] == "the waves grow bigger"
        page.wait_for_selector(f'#queue-list .job[data-id="{longer["id"]}"]')
        done = _completed(api, longer["id"])
        assert done["seconds"] == "3" and _frames(api, longer["id"]).shape[0] == 24  # 1 s + 2 s at 8 fps

        # A video of 30 s cannot grow: the button says so instead.
        full = api.post("/v1/videos", json={"prompt": "a still lake", "seconds": 30, "size": "32x32", "fps": 1}).json()
        _completed(api, full["id"])
        page.wait_for_selector(f'#gallery-grid .card[data-id="{full["id"]}"]')
        page.click(f'#gallery-grid .card[data-id="{full["id"]}"] .poster')
        page.wait_for_selector("#player[open]")
        assert extend.is_disabled()
        assert page.locator("#extend-why").inner_text() == "This video is 30 s already, the longest kadr makes."
    finally:
        api.close()
        context.close()
    assert errors == [], errors
