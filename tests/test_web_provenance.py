"""The page's provenance badge in a real browser (Debian's chromium under Playwright, a real `kadr serve`).

A video made through the API shows "AI-labelled (C2PA)" on its card and a provenance row in the player
that says what the file carries (the manifest, and the watermark when the job was marked), in English
and in Russian; the badge follows the video object, so a video without provenance shows none; and the
page's download is the signed file, byte for byte, which `kadr verify` reads back as valid.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from web_fixtures import studio_browser, studio_server  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.slow

BADGE = {"en": "AI-labelled (C2PA)", "ru": "метка ИИ (C2PA)"}
ROW = {"en": "Provenance", "ru": "Происхождение"}
DETAIL = {  # kadr/web/i18n.js: provenance.c2pa and provenance.both
    ("en", False): "signed C2PA manifest: made by AI (kept in the download)",
    ("en", True): "signed C2PA manifest and invisible watermark: made by AI (kept in the download)",
    ("ru", False): "подписанный манифест C2PA: сделано ИИ (сохраняется в скачанном файле)",
    ("ru", True): "подписанный манифест C2PA и невидимый водяной знак: сделано ИИ (сохраняется в скачанном файле)",
}


@pytest.fixture(scope="module")
def made_video(studio_server) -> dict:
    """One short fast-tier video made through the API, finished."""
    with httpx.Client(base_url=studio_server.base, headers={"Authorization": f"Bearer {studio_server.key}"}, timeout=30) as api:
        video = api.post("/v1/videos", json={"prompt": "A lighthouse on a cliff at dusk", "seconds": "5", "quality": "fast",
                                             "size": "256x144"}).json()
        assert "id" in video, video
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            video = api.get(f"/v1/videos/{video['id']}").json()
            if video["status"] in ("completed", "failed", "canceled"):
                break
            time.sleep(0.3)
        assert video["status"] == "completed", video
        video["content"] = api.get(f"/v1/videos/{video['id']}/content").content
    return video


def _open(studio_browser, studio_server, lang: str):
    context = studio_browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US", accept_downloads=True)
    context.add_init_script(f"localStorage.setItem('kadr.apiKey', {studio_server.key!r}); localStorage.setItem('kadr.lang', {lang!r})")
    return context


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_card_and_player_show_provenance_and_download_keeps_it(lang, studio_server, studio_browser, made_video, tmp_path):
    provenance = made_video["provenance"]
    assert provenance and provenance["c2pa"] is True, provenance
    context = _open(studio_browser, studio_server, lang)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(studio_server.base + "/")
        page.wait_for_selector("#app:not([hidden])")
        card = page.locator(f'#gallery-grid .card[data-id="{made_video["id"]}"]')
        card.wait_for()
        assert BADGE[lang] in card.inner_text(), card.inner_text()

        card.locator(".poster").click()
        page.wait_for_selector("#player[open]")
        rows = page.evaluate("""[...document.querySelectorAll('#player-meta dt')].map((dt) =>
            [dt.textContent, dt.nextElementSibling ? dt.nextElementSibling.textContent : null])""")
        assert [ROW[lang], DETAIL[(lang, bool(provenance["watermark"]))]] in rows, rows

        with page.expect_download() as info:
            page.click('#player [data-act="download"]')
        target = tmp_path / info.value.suggested_filename
        info.value.save_as(target)
    finally:
        context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"
    assert target.read_bytes() == made_video["content"], "the page's download is not the signed file"
    report = json.loads(subprocess.run([sys.executable, "-m", "kadr", "verify", str(target), "--json"], capture_output=True,
                                       text=True, env=studio_server.env, timeout=120).stdout)
    assert report["manifest"]["valid"] is True and report["manifest"]["digital_source_type"].endswith("trainedAlgorithmicMedia"), report
    assert report["watermark"]["found"] is bool(provenance["watermark"]), (report, provenance)
    if provenance["watermark"]:
        assert report["watermark"]["payload"] == provenance["watermark_payload"], (report, provenance)


def test_no_badge_without_provenance(studio_server, studio_browser, made_video):
    """The badge comes from the video object: the same video, its provenance taken out of the API's answers, has none."""
    context = _open(studio_browser, studio_server, "en")

    def strip(route):
        response = route.fetch()
        body = response.json()
        for item in body.get("data", [body]):
            if isinstance(item, dict):
                item.pop("provenance", None)
        route.fulfill(response=response, json=body)

    context.route("**/v1/videos*", strip)
    page = context.new_page()
    try:
        page.goto(studio_server.base + "/")
        page.wait_for_selector("#app:not([hidden])")
        card = page.locator(f'#gallery-grid .card[data-id="{made_video["id"]}"]')
        card.wait_for()
        page.wait_for_timeout(300)
        assert BADGE["en"] not in card.inner_text(), card.inner_text()
        card.locator(".poster").click()
        page.wait_for_selector("#player[open]")
        assert ROW["en"] not in page.locator("#player-meta").inner_text()
    finally:
        context.close()
