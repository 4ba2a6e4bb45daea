"""The studio page in a real browser: Debian's chromium driven by Playwright against a real `kadr serve`.

One flow, step by step, as a person would use the page: sign in, type a Russian prompt and read the
advice, pick 9:16 and a camera, create, watch the progress reach 100 %, play the video in the page,
download it, cancel a second job, read the advice on a vague prompt, use it at phone width. Each step
writes a screenshot to docs/screenshots/ (the README shows them). Around it: the page's weight (files
and what the browser loads), image to video (drop, preview, file picker, a damaged file, a multipart
submit), "left this month" on every kind of plan, and live updates by polling when the event stream is
cut off.
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import av
import httpx
import pytest
from PIL import Image

from conftest import wait_until
from web_fixtures import WEB_DIR, save_screenshot
from web_fixtures import studio_browser, studio_server  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.slow

RU_PROMPT = "Закат над морем, волны набегают на песок, медленная панорама слева направо"
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)


ADVICE_READY = """(() => {
    const box = document.querySelector('#advice');
    return box.dataset.for === document.querySelector('#prompt').value.trim() && !box.dataset.busy
        && ['good', 'fair', 'vague'].includes(box.dataset.state);
})()"""


# Controls that stick out of their panel (a card cut off at the edge of a phone) or whose text spills out
# of them, as "class: px".
INSIDE_PANELS = """(() => {
    const out = [];
    for (const panel of document.querySelectorAll('.panel, .topbar')) {
        const edge = panel.getBoundingClientRect();
        const sel = '.aspect-card, .preset-card, .tier-card, .chip, .btn, .seg span, .job, .card, .lang';
        for (const node of panel.querySelectorAll(sel)) {
            const r = node.getBoundingClientRect();
            if (!r.width) continue;
            const over = Math.max(r.right - edge.right, edge.left - r.left);
            if (over > 0.5) out.push(`${node.className}: ${over.toFixed(1)}px`);
            const spill = node.scrollWidth - node.clientWidth;  // its own text wider than the card
            if (spill > 1 && getComputedStyle(node).overflowX === 'visible')
                out.push(`${node.className} (${node.textContent.trim().slice(0, 30)}): text ${spill}px too wide`);
        }
    }
    return out;
})()"""


def _state(page, selector: str, attribute: str) -> str | None:
    return page.locator(selector).first.get_attribute(attribute)


PAGE_WEIGHT = """(() => {
    const entries = [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')];
    return entries.map((e) => ({name: e.name, kind: e.initiatorType || 'navigation', bytes: e.encodedBodySize}));
})()"""


def test_page_weight_and_no_build(studio_server, studio_browser):
    """index.html + its modules + CSS: under 200 KB, served by the service, nothing from elsewhere.

    Weighed twice: the files as the service serves them, and everything the browser fetched to show the
    signed-in page (the Performance API's body sizes), leaving out only videos and posters.
    """
    base, key = studio_server.base, studio_server.key
    files = sorted(p for p in WEB_DIR.rglob("*") if p.is_file())
    names = {p.name for p in files}
    assert {"index.html", "app.js", "style.css", "i18n.js"} <= names
    total = 0
    with httpx.Client(base_url=base, timeout=10) as client:
        index = client.get("/")
        assert index.status_code == 200 and "text/html" in index.headers["content-type"]
        total += len(index.content)
        for path in files:
            if path.name == "index.html":
                continue
            rel = path.relative_to(WEB_DIR).as_posix()
            res = client.get(f"/{rel}")
            assert res.status_code == 200, f"/{rel} is not served: {res.status_code}"
            assert res.content == path.read_bytes()
            total += len(res.content)
    assert total < 200 * 1024, f"the page weighs {total / 1024:.1f} KB"
    page_text = "".join(p.read_text(encoding="utf-8") for p in files if p.suffix in {".html", ".js", ".css"})
    assert not re.search(r"""(src|href)\s*=\s*["']https?://""", page_text), "the page must not load anything from elsewhere"
    assert not re.search(r"""import[^;]*from\s*["']https?://""", page_text)

    context = studio_browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    context.add_init_script(f"localStorage.setItem('kadr.apiKey', {key!r})")
    page = context.new_page()
    try:
        page.goto(base + "/")
        page.wait_for_selector("#app:not([hidden])")
        page.wait_for_function("document.querySelector('.tier-left[data-tier=fast]').textContent.length > 0")
        page.wait_for_function("document.querySelector('#queue-empty').hidden || document.querySelector('#queue-list').children.length === 0")
        entries = page.evaluate(PAGE_WEIGHT)
    finally:
        context.close()
    assert all(e["name"].startswith(base) for e in entries), [e["name"] for e in entries if not e["name"].startswith(base)]
    loaded = {e["name"].removeprefix(base).split("?")[0]: e for e in entries}
    for asset in ("/", "/app.js", "/i18n.js", "/style.css"):
        assert asset in loaded and loaded[asset]["bytes"] > 0, f"{asset} was not loaded: {sorted(loaded)}"
    weight = sum(e["bytes"] for e in entries if "/content" not in e["name"])
    assert weight >= total * 0.9, (weight, total)  # the measure saw the files themselves
    assert weight < 200 * 1024, f"the page weighs {weight / 1024:.1f} KB in the browser: {entries}"
    print(f"page weight: files {total / 1024:.1f} KB, loaded by the browser {weight / 1024:.1f} KB")


def test_studio_flow(studio_server, studio_browser, tmp_path):
    base, key = studio_server.base, studio_server.key
    context = studio_browser.new_context(viewport={"width": 1280, "height": 800}, locale="ru-RU", accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    refused: list[str] = []
    page.on("response", lambda res: refused.append(f"{res.status} {res.request.method} {res.url}") if res.status >= 400 else None)
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    try:
        _flow(page, base, key, api, tmp_path)
    finally:
        api.close()
        context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"
    # The only request the server refused is the sign-in with a wrong key.
    assert refused == [f"401 GET {base}/v1/me"], refused


def _flow(page, base: str, key: str, api: httpx.Client, tmp_path: Path) -> None:
    # 1. Open the page: the interface follows the browser's language (Russian), and asks for a key.
    page.goto(base + "/")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.evaluate("document.documentElement.lang") == "ru"
    assert page.locator("#signin h1").inner_text() == "Вход в kadr"
    page.fill("#key-input", "not-a-key")
    page.click("#signin-button")
    page.wait_for_function("document.querySelector('#signin-error').textContent.length > 0")
    save_screenshot(page, "01-sign-in")
    page.fill("#key-input", key)
    page.click("#signin-button")
    page.wait_for_selector("#app:not([hidden])")
    # The key is kept in the browser: a reload stays signed in.
    assert page.evaluate("localStorage.getItem('kadr.apiKey')") == key
    page.reload()
    page.wait_for_selector("#app:not([hidden])")
    page.wait_for_function("document.querySelector('#user').textContent.length > 0")
    # Usage shows each tier's cost and what is left this month.
    page.wait_for_function("document.querySelector('.tier-left[data-tier=fast]').textContent.length > 0")

    # 2. Type a Russian prompt: advice appears as one types, in Russian, with the camera found as a chip.
    page.locator("#prompt").press_sequentially(RU_PROMPT, delay=8)
    page.wait_for_function(ADVICE_READY)
    plan = api.post("/v1/prompt/check", json={"prompt": RU_PROMPT, "aspect": "16:9", "seconds": 5}).json()
    score = page.locator("#score-num").inner_text()
    assert score == str(round(plan["score"])), (score, plan["score"])
    assert page.locator('[data-chip="camera"] select').input_value() == "pan_right"
    assert "русский" in page.locator("#advice-chips").inner_text()
    tips = page.locator("#advice-list li").all_inner_texts()
    assert len(tips) == len(plan.get("suggestions") or []) + len(plan.get("warnings") or [])
    assert all(CYRILLIC.search(tip) for tip in tips), f"advice for a Russian prompt should be in Russian: {tips}"
    save_screenshot(page, "02-advice-russian")

    # 3. Pick 9:16 and a camera. The chip and the preset grid are two views of the same choice.
    page.locator('[data-chip="camera"] select').select_option("tilt_up")
    assert page.locator('input[name="camera"][value="tilt_up"]').is_checked()
    page.locator('[data-chip="style"] select').select_option("cinematic")
    assert page.locator('input[name="style"][value="cinematic"]').is_checked()
    page.wait_for_function("document.querySelector('#scene').classList.contains('st-cinematic')")
    page.wait_for_function("document.querySelector('[data-chip=style] select')?.value === 'cinematic' && !document.querySelector('#advice').dataset.busy")
    page.click('label.preset:has(input[name="style"][value="auto"])')  # back to what the prompt says (nothing)
    page.wait_for_function("document.querySelector('[data-chip=style] select')?.value === '' && !document.querySelector('#advice').dataset.busy")
    page.click('label.aspect:has(input[value="9:16"])')
    page.click('label.preset[data-camera="zoom_in"]')
    assert page.locator('input[name="camera"][value="zoom_in"]').is_checked()
    page.wait_for_function("document.querySelector('[data-chip=camera] select')?.value === 'zoom_in'")
    frame = page.locator("#frame").bounding_box()
    assert frame["height"] > frame["width"] * 1.5, f"the frame preview should be portrait: {frame}"
    assert "mv-zoom_in" in page.locator("#scene").get_attribute("class")
    assert page.evaluate(INSIDE_PANELS) == []
    assert page.locator("#duration").input_value() == "5"
    # Each camera preset has a small animated icon (the static one holds still).
    motions = page.evaluate("""[...document.querySelectorAll('label.preset[data-camera] .mv')].map((i) => {
        const cs = getComputedStyle(i);
        return [i.closest('label').dataset.camera, cs.animationName, cs.animationIterationCount];
    })""")
    assert {m[0] for m in motions} == {"static", "pan_left", "pan_right", "tilt_up", "tilt_down", "zoom_in", "zoom_out"}, motions
    for camera_name, animation, count in motions:
        assert (animation == "none") == (camera_name == "static") and (camera_name == "static" or count == "infinite"), motions
    # The text says a pan, the preset says zoom in: the advice says so, in Russian words, not API names.
    warns = page.locator("#advice-list li.warn").all_inner_texts()
    assert any("наезд" in w and "панорама вправо" in w for w in warns), warns
    for tip in page.locator("#advice-list li").all_inner_texts():
        assert not re.search(r"[a-z]+_[a-z]+|[a-z]=\w", tip), f"an API name leaked into the advice: {tip}"
    page.evaluate("window.scrollTo(0, 0)")
    save_screenshot(page, "03-settings-9x16-camera", full_page=True)

    # 4. Create, and watch the job in the queue: progress bar, percent and ETA, live, no reload.
    page.click("#submit")
    job = page.locator("#queue-list .job").first
    job.wait_for()
    video_id = job.get_attribute("data-id")
    assert video_id
    created = api.get(f"/v1/videos/{video_id}").json()
    assert created["aspect"] == "9:16" and created["quality"] == "fast" and int(float(created["seconds"])) == 5
    camera = created.get("camera")
    assert (camera.get("motion") if isinstance(camera, dict) else camera) == "zoom_in", camera
    w, h = (int(x) for x in created["size"].split("x"))
    assert h > w, created["size"]

    bar = f'#queue-list .job[data-id="{video_id}"] [role="progressbar"]'
    seen: list[int] = []
    mid_shot = False
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = _state(page, f'#queue-list .job[data-id="{video_id}"]', "data-status")
        value = int(_state(page, bar, "aria-valuenow") or 0)
        if not seen or seen[-1] != value:
            seen.append(value)
        if status == "running" and 0 < value < 100 and not mid_shot:
            page.evaluate("window.scrollTo(0, 0)")
            # The bar and its label, read in one go (the job may move on between two reads).
            now, label = page.evaluate(
                """(id) => { const job = document.querySelector(`#queue-list .job[data-id="${id}"]`);
                             return [job.querySelector('[role="progressbar"]').getAttribute('aria-valuenow'),
                                     job.querySelector('.pct').textContent]; }""", video_id)
            assert label.strip() == f"{now}%"
            save_screenshot(page, "04-queue-progress")
            mid_shot = True
        if status in ("failed", "canceled"):
            raise AssertionError(f"the job ended {status}: {api.get(f'/v1/videos/{video_id}').json().get('error')}")
        if status == "succeeded":
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the job did not finish in 10 minutes; progress seen: {seen}")
    assert seen[-1] == 100, seen
    assert any(0 < v < 100 for v in seen), f"the bar should move through intermediate values, saw {seen}"
    assert seen == sorted(seen), f"progress went backwards: {seen}"
    assert mid_shot
    assert page.locator(f'#queue-list .job[data-id="{video_id}"] .pct').inner_text() == "100%"
    assert page.locator(f'#queue-list .job[data-id="{video_id}"] .status').inner_text() == "Готово"
    card = page.locator(f'#gallery-grid .card[data-id="{video_id}"]')
    card.wait_for()
    page.wait_for_function(f"document.querySelector('.card[data-id=\"{video_id}\"] .poster img')?.naturalWidth > 0")
    save_screenshot(page, "05-done-100")

    # 5. Click the poster: the video plays in the page (readyState reaches 3, currentTime advances).
    card.locator(".poster").click()
    page.wait_for_selector("#player[open]")
    page.wait_for_function("document.querySelector('#player-video').readyState >= 3", timeout=30_000)
    t0 = page.evaluate("document.querySelector('#player-video').currentTime")
    page.wait_for_function(
        f"(() => {{ const v = document.querySelector('#player-video'); return !v.paused && v.currentTime !== {t0} && v.played.length > 0; }})()",
        timeout=15_000,
    )
    vw, vh = page.evaluate("[document.querySelector('#player-video').videoWidth, document.querySelector('#player-video').videoHeight]")
    assert (vw, vh) == (w, h), ((vw, vh), created["size"])
    save_screenshot(page, "06-playing")

    # 6. Download the MP4 and decode it back.
    with page.expect_download() as info:
        page.click('#player [data-act="download"]')
    download = info.value
    assert download.suggested_filename.endswith(".mp4"), download.suggested_filename
    page.wait_for_function("(name) => document.querySelector('#toasts').textContent.includes(name)", arg=download.suggested_filename)
    assert "--" not in download.suggested_filename, download.suggested_filename
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    data = target.read_bytes()
    assert data[4:8] == b"ftyp", "not an MP4"
    with av.open(str(target)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert (stream.codec_context.width, stream.codec_context.height) == (w, h)
    expected = 5 * int(created["fps"])
    assert abs(frames - expected) <= int(created["fps"]) // 2, (frames, expected)
    page.click("#player-close")
    page.wait_for_function("!document.querySelector('#player').open")
    save_screenshot(page, "07-download")

    # "Again with these settings" restores the form from the video.
    card.locator(".act-again").click()
    assert page.locator("#prompt").input_value() == created["prompt"]
    assert page.locator('input[name="aspect"][value="9:16"]').is_checked()
    assert page.locator('input[name="camera"][value="zoom_in"]').is_checked()

    # 7. A second, long job, canceled from the queue.
    page.fill("#prompt", "Ночной город под дождём, неоновые вывески отражаются в лужах, камера медленно приближается")
    page.locator("#duration").fill("30")
    page.click("#submit")
    second = page.locator(f'#queue-list .job:not([data-id="{video_id}"])').first
    second.wait_for()
    second_id = second.get_attribute("data-id")
    second.locator("button.cancel").click()
    page.wait_for_selector(f'#queue-list .job[data-id="{second_id}"][data-status="canceled"]', timeout=30_000)
    assert second.locator(".status").inner_text() == "Отменено"
    wait_until(lambda: api.get(f"/v1/videos/{second_id}").json()["kadr_status"] == "canceled", 30, "the service to report the cancel")
    assert page.locator(f'#gallery-grid .card[data-id="{second_id}"]').count() == 0
    page.locator("#queue").scroll_into_view_if_needed()
    save_screenshot(page, "08-canceled")

    # 8. Switch the interface to English; a vague prompt gets advice.
    page.click('.lang button[data-lang="en"]')
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.evaluate("localStorage.getItem('kadr.lang')") == "en"  # the choice outlives the page
    assert page.locator("#create-h").inner_text() == "Create"
    page.locator("#create").evaluate("el => el.scrollIntoView({block: 'start'})")
    # The advice speaks the prompt's language, not the interface's: a Russian prompt under the English
    # interface gets its verdict, what is missing and its suggestions in Russian; the chips stay English.
    page.fill("#prompt", "")
    page.locator("#prompt").press_sequentially("красивое видео", delay=10)
    page.wait_for_function(ADVICE_READY)
    assert page.locator("#advice").get_attribute("data-state") == "vague"
    summary = page.locator("#advice-summary").inner_text()
    assert summary.startswith("Слишком расплывчато") and "Не хватает:" in summary, summary
    assert all(CYRILLIC.search(tip) for tip in page.locator("#advice-list li").all_inner_texts())
    assert page.locator('[data-chip="camera"] .chip-k').inner_text().lower() == "camera"
    page.fill("#prompt", "")
    page.locator("#prompt").press_sequentially("a nice video", delay=10)
    page.wait_for_function(ADVICE_READY)
    vague = api.post("/v1/prompt/check", json={"prompt": "a nice video"}).json()
    assert vague["vague"] is True and vague["suggestions"], vague
    assert page.locator("#advice").get_attribute("data-state") == "vague"
    summary = page.locator("#advice-summary").inner_text()
    assert summary.startswith("Too vague") and "Missing:" in summary and not CYRILLIC.search(summary), summary
    assert page.locator("#advice-list li").count() >= 1
    assert page.evaluate(INSIDE_PANELS) == []  # the English words fit too
    save_screenshot(page, "09-vague-advice-english")

    # 9. Phone width: one column, nothing wider than the screen.
    page.click('.lang button[data-lang="ru"]')
    page.fill("#prompt", RU_PROMPT)
    page.set_viewport_size({"width": 375, "height": 812})
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_function(ADVICE_READY)
    page.wait_for_timeout(400)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.evaluate(INSIDE_PANELS) == []
    save_screenshot(page, "10-phone", full_page=True)
    page.set_viewport_size({"width": 320, "height": 640})  # the smallest phones still in use
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert page.evaluate(INSIDE_PANELS) == []

    # Delete from the gallery (two clicks: delete, confirm): gone from the page and from the service.
    card.locator(".act-delete").click()
    card.locator(".act-delete").click()
    card.wait_for(state="detached")
    assert api.get(f"/v1/videos/{video_id}").status_code == 404


def test_image_mode_drop_preview(studio_server, studio_browser):
    """Image to video: drop an image on the form, see it previewed in the frame, the prompt asks for motion."""
    base, key = studio_server.base, studio_server.key
    context = studio_browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    context.add_init_script(f"localStorage.setItem('kadr.apiKey', {key!r})")
    page = context.new_page()
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    try:
        page.goto(base + "/")
        page.wait_for_selector("#app:not([hidden])")
        assert page.evaluate("document.documentElement.lang") == "en"
        buf = io.BytesIO()
        _lake_picture().save(buf, "PNG")
        page.evaluate(
            """async (bytes) => {
                const file = new File([new Uint8Array(bytes)], 'lake.png', {type: 'image/png'});
                const dt = new DataTransfer();
                dt.items.add(file);
                const target = document.querySelector('#prompt');
                for (const type of ['dragenter', 'dragover', 'drop'])
                    target.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: dt}));
            }""",
            list(buf.getvalue()),
        )
        page.wait_for_function("document.querySelector('#image-preview').naturalWidth === 320")
        assert page.locator('input[name="mode"][value="image"]').is_checked()
        assert page.locator("#prompt-label").text_content() == "Describe the motion"
        assert "320×180" in page.locator("#image-meta").inner_text()
        assert "blob:" in page.locator("#scene").evaluate("el => el.style.backgroundImage")
        page.locator("#prompt").press_sequentially("The water ripples, the clouds drift, slow zoom in", delay=5)
        page.click('label.preset[data-camera="zoom_in"]')
        page.wait_for_function(ADVICE_READY)
        page.evaluate("window.scrollTo(0, 0)")
        save_screenshot(page, "11-image-to-video", full_page=True)

        # Create: the picture travels as multipart; the job is image-to-video; cancel it from the queue.
        before = set(page.locator("#queue-list .job").evaluate_all("nodes => nodes.map((n) => n.dataset.id)"))
        page.click("#submit")
        page.wait_for_function(
            "(ids) => [...document.querySelectorAll('#queue-list .job')].some((n) => !ids.includes(n.dataset.id))",
            arg=sorted(before))
        new_ids = set(page.locator("#queue-list .job").evaluate_all("nodes => nodes.map((n) => n.dataset.id)")) - before
        assert len(new_ids) == 1, new_ids
        job_id = new_ids.pop()
        made = api.get(f"/v1/videos/{job_id}").json()
        assert made["image_to_video"] is True and made["prompt"].startswith("The water ripples"), made
        width, height = (int(x) for x in made["size"].split("x"))
        assert width > height, made["size"]  # 16:9, as picked (the default)
        job = page.locator(f'#queue-list .job[data-id="{job_id}"]')
        assert "from an image" in job.locator(".job-meta").inner_text()
        job.locator("button.cancel").click()
        page.wait_for_selector(f'#queue-list .job[data-id="{job_id}"][data-status="canceled"]', timeout=30_000)

        # Replace it through the file picker with a portrait picture: the aspect follows the picture
        # (the person has not chosen one), and the frame preview turns portrait.
        buf = io.BytesIO()
        _lake_picture().transpose(Image.Transpose.ROTATE_90).save(buf, "PNG")
        page.set_input_files("#image-input", files=[{"name": "tall.png", "mimeType": "image/png", "buffer": buf.getvalue()}])
        page.wait_for_function("document.querySelector('#image-preview').naturalWidth === 180")
        assert page.locator("#image-name").inner_text() == "tall.png"
        page.wait_for_function("document.querySelector('input[name=aspect][value=\"9:16\"]').checked")
        frame = page.locator("#frame").bounding_box()
        assert frame["height"] > frame["width"] * 1.5, frame
        # Once the person picks an aspect, a new picture leaves it alone.
        page.click('label.aspect:has(input[value="1:1"])')
        buf = io.BytesIO()
        _lake_picture().save(buf, "PNG")
        page.set_input_files("#image-input", files=[{"name": "wide.png", "mimeType": "image/png", "buffer": buf.getvalue()}])
        page.wait_for_function("document.querySelector('#image-preview').naturalWidth === 320")
        assert page.locator('input[name="aspect"][value="1:1"]').is_checked()

        page.click("#image-clear")
        assert page.locator("#drop-empty").is_visible()

        # A damaged file is refused on the page, before anything is sent.
        posts: list[str] = []
        page.on("request", lambda req: posts.append(req.url) if req.method == "POST" and req.url.endswith("/v1/videos") else None)
        page.set_input_files("#image-input", files=[{"name": "broken.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\n" + b"\0" * 40}])
        page.wait_for_function("document.querySelector('#form-error').textContent.includes('broken.png')")
        assert page.locator("#drop-empty").is_visible()
        page.click("#submit")
        assert page.locator("#form-error").inner_text() == "Add an image first, or switch to text."
        assert posts == []
    finally:
        api.close()
        context.close()


def test_polling_fallback_without_event_stream(studio_server, studio_browser):
    """With the SSE endpoint unreachable the page falls back to polling: jobs made elsewhere still show up live."""
    base, key = studio_server.base, studio_server.key
    context = studio_browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    # A Russian interface chosen earlier on the switch wins over the English browser.
    context.add_init_script(f"localStorage.setItem('kadr.apiKey', {key!r}); localStorage.setItem('kadr.lang', 'ru')")
    context.route("**/v1/events", lambda route: route.abort())
    page = context.new_page()
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    try:
        page.goto(base + "/")
        page.wait_for_selector("#app:not([hidden])")
        assert page.evaluate("document.documentElement.lang") == "ru"
        page.wait_for_selector('#live[data-state="poll"]')
        video = api.post("/v1/videos", json={"prompt": "A red kite over a green hill", "seconds": "30", "quality": "fast"}).json()
        job = page.locator(f'#queue-list .job[data-id="{video["id"]}"]')
        job.wait_for(timeout=15_000)  # no reload: the poll found it
        api.post(f"/v1/videos/{video['id']}/cancel")
        page.wait_for_selector(f'#queue-list .job[data-id="{video["id"]}"][data-status="canceled"]', timeout=15_000)
        assert job.locator(".status").inner_text() == "Отменено"
    finally:
        api.close()
        context.close()


def test_quality_shows_what_is_left_on_each_plan(studio_server, studio_browser):
    """Each tier's cost and what is left this month, for a video limit, a credit budget, no meter, and none left."""
    base = studio_server.base
    expected_left = {  # plan -> (fast, high) as the usage API reports "left"
        "free": (10, 0),  # 10 fast videos a month, no high ones
        "credits": (5, 1),  # 100 credits: 5 fast at 20 or 1 high at 100, no per-tier limit
        "unlimited": (None, None),
        "spent": (0, 0),
    }
    for plan, (fast_left, high_left) in expected_left.items():
        key = studio_server.add_user(f"plan-{plan}", plan)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
            usage = api.get("/v1/usage").json()
        assert (usage["tiers"]["fast"]["left"], usage["tiers"]["high"]["left"]) == (fast_left, high_left), usage
        context = studio_browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
        context.add_init_script(f"localStorage.setItem('kadr.apiKey', {key!r})")
        page = context.new_page()
        try:
            page.goto(base + "/")
            page.wait_for_selector("#app:not([hidden])")
            page.wait_for_function("document.querySelector('.tier-left[data-tier=high]').textContent.length > 0")
            for tier in ("fast", "high"):
                u = usage["tiers"][tier]
                want = ("no monthly limit" if u["left"] is None else "none left this month" if u["left"] == 0
                        else f"{u['left']} left this month")
                assert page.locator(f'.tier-left[data-tier="{tier}"]').inner_text() == want, (plan, tier, u)
                assert page.locator(f'.tier-cost[data-tier="{tier}"]').inner_text() == f"{u['cost']} credits"
                assert page.locator(f'input[name="quality"][value="{tier}"]').is_disabled() == (u["left"] == 0)
            can_make = any(left != 0 for left in (fast_left, high_left))
            assert page.locator("#submit").is_enabled() == can_make, plan
            if can_make:
                assert page.locator('input[name="quality"]:checked').get_attribute("value") == "fast"
            else:
                assert page.locator("#submit-cost").inner_text() == "none left this month"
        finally:
            context.close()


def _lake_picture() -> Image.Image:
    """A 320x180 picture: sky, sun, hills and water (drawn here, so the test needs no file)."""
    from PIL import ImageDraw

    image = Image.new("RGB", (320, 180))
    draw = ImageDraw.Draw(image)
    for y in range(180):
        k = y / 179
        draw.line([(0, y), (320, y)], fill=(int(40 + 200 * k), int(60 + 90 * k), int(140 - 40 * k)))
    draw.ellipse((200, 50, 240, 90), fill=(255, 214, 150))
    draw.polygon([(0, 120), (70, 80), (130, 110), (200, 70), (320, 115), (320, 180), (0, 180)], fill=(40, 50, 90))
    draw.rectangle((0, 135, 320, 180), fill=(30, 60, 110))
    return image

