"""The page's "Upscale" and "Smooth motion" controls in a real browser (Debian's chromium under Playwright)
against a real `kadr serve`: the time each adds is shown before submitting (from the measured
kadr/web/post_costs.json, for the chosen tier and duration), the choices reach the API, and a smoothed
video comes back at twice the frame rate."""

from __future__ import annotations

import io
import json
import math

import av
import httpx
import pytest

from web_fixtures import WEB_DIR
from web_fixtures import studio_browser, studio_server  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.slow

COSTS = json.loads((WEB_DIR / "post_costs.json").read_text(encoding="utf-8"))


def _fmt(seconds: float) -> str:
    """app.js's formatDuration in English."""
    s = max(1, math.floor(seconds + 0.5))
    if s < 60:
        return f"{s} s"
    m, r = divmod(s, 60)
    return f"{m} min {r} s" if r else f"{m} min"


def _added(tier: str, seconds: int, upscale: str, smooth: bool) -> float:
    row = COSTS["tiers"][tier]
    frames = seconds * COSTS["fps"] * (2 if smooth else 1)
    return (row["smooth_s_per_output_frame"] * frames if smooth else 0.0) + \
        (row["upscale_s_per_frame"][upscale] * frames if upscale != "off" else 0.0)


def _set_duration(page, seconds: int) -> None:
    page.evaluate("(n) => { const d = document.querySelector('#duration'); d.value = String(n);"
                  " d.dispatchEvent(new Event('input', {bubbles: true})); d.dispatchEvent(new Event('change', {bubbles: true})); }",
                  seconds)


def test_upscale_and_smooth_show_their_cost_and_reach_the_video(studio_server, studio_browser):
    base, key = studio_server.base, studio_server.key
    assert {"fast", "high"} <= set(COSTS["tiers"]) and COSTS["date"] and COSTS["cores"]
    context = studio_browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.add_init_script(f"localStorage.setItem('kadr.apiKey', {key!r})")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    try:
        page.goto(base + "/")
        page.wait_for_selector("#app:not([hidden])")
        page.wait_for_function("document.querySelector('#post-note').textContent.includes('measured')")
        assert f"{COSTS['cores']} CPU cores, {COSTS['date']}" in page.locator("#post-note").inner_text()

        # Before anything is chosen, every upscale option and smooth motion say what they add (fast, 5 s).
        options = page.locator("#upscale option").all_inner_texts()
        assert options[0] == "Off"
        for text, target in zip(options[1:], ("2x", "4x", "720p")):
            assert text == f"{target} · +{_fmt(_added('fast', 5, target, False))}", options
        assert page.locator("#smooth-cost").inner_text() == f"adds about {_fmt(_added('fast', 5, 'off', True))} to this 5 s video"
        assert page.locator("#upscale-cost").inner_text() == ""

        # Choosing 720p, then 10 s, then the high tier: the figure follows each.
        page.select_option("#upscale", "720p")
        assert page.locator("#upscale-cost").inner_text() == f"adds about {_fmt(_added('fast', 5, '720p', False))} to this 5 s video"
        _set_duration(page, 10)
        assert page.locator("#upscale-cost").inner_text() == f"adds about {_fmt(_added('fast', 10, '720p', False))} to this 10 s video"
        page.click('label.tier:has(input[value="high"])')
        assert page.locator("#upscale-cost").inner_text() == f"adds about {_fmt(_added('high', 10, '720p', False))} to this 10 s video"
        assert page.locator("#upscale-cost").get_attribute("data-slow") is not None  # minutes: shown as a warning
        # Smooth motion doubles the frames the upscaler sees: both figures say so.
        page.check("#smooth")
        assert page.locator("#upscale-cost").inner_text() == f"adds about {_fmt(_added('high', 10, '720p', True))} to this 10 s video"
        marginal = _added("high", 10, "720p", True) - _added("high", 10, "720p", False)
        assert page.locator("#smooth-cost").inner_text() == f"adds about {_fmt(marginal)} to this 10 s video"

        # Submit: the choices travel in the body; the video object already has the delivered size and rate.
        page.click('label.tier:has(input[value="fast"])')
        _set_duration(page, 5)
        page.select_option("#upscale", "2x")
        page.fill("#prompt", "Sunset over the sea, waves, the camera pans from left to right")
        with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/v1/videos")) as sent:
            page.click("#submit")
        body = sent.value.post_data_json
        assert (body["upscale"], body["smooth"], body["quality"]) == ("2x", True, "fast"), body
        upscaled = sent.value.response().json()
        assert (upscaled["size"], upscaled["fps"]) == ("512x288", 48), upscaled
        # Real-ESRGAN would take minutes here: cancel it from the queue (the upscaler stops within a frame).
        job = page.locator(f'#queue-list .job[data-id="{upscaled["id"]}"]')
        job.locator("button.cancel").click()
        page.wait_for_selector(f'#queue-list .job[data-id="{upscaled["id"]}"][data-status="canceled"]', timeout=60_000)

        # Smooth motion alone is cheap: make it, and read the MP4 back at twice the frame rate.
        page.select_option("#upscale", "off")
        with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/v1/videos")) as sent:
            page.click("#submit")
        body = sent.value.post_data_json
        assert "upscale" not in body and body["smooth"] is True, body
        smooth_id = sent.value.response().json()["id"]
        page.wait_for_selector(f'#queue-list .job[data-id="{smooth_id}"][data-status="succeeded"]', timeout=120_000)
        data = api.get(f"/v1/videos/{smooth_id}/content").content
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.video[0]
            frames = sum(1 for _ in container.decode(stream))
            assert (stream.codec_context.width, stream.codec_context.height, float(stream.average_rate)) == (256, 144, 48.0)
        assert frames == 240

        # "Again with these settings" on the gallery card brings the choices back.
        video = api.get(f"/v1/videos/{smooth_id}").json()
        assert (video["upscale"], video["smooth"]) == (None, True)
        page.select_option("#upscale", "4x")
        page.uncheck("#smooth")
        page.locator(f'#gallery-grid .card[data-id="{smooth_id}"] .card-actions button').nth(1).click()
        page.wait_for_function("document.querySelector('#smooth').checked")
        assert page.locator("#upscale").input_value() == "off"
    finally:
        api.close()
        context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"
