"""Upscaling through the live API shows as its own stage: the video object's ``stage`` reads "post" while the
frames are upscaled, with progress that does not go back and an ETA (the page shows stage.post, kadr/web/i18n.js)."""

from __future__ import annotations

import time
import warnings

import openai

warnings.filterwarnings("ignore", category=DeprecationWarning)  # openai marks the Videos API deprecated


def test_upscaling_is_reported_as_the_post_stage(live_server, user_factory) -> None:
    key, _ = user_factory()
    client = openai.OpenAI(base_url=live_server.url + "/v1", api_key=key, max_retries=0, timeout=60)
    video = client.videos.create(prompt="Закат над морем, волны", seconds="2", size="160x96",
                                 extra_body={"seed": 4, "upscale": "2x"})
    seen: list[tuple[str | None, int, float | None]] = []
    deadline = time.monotonic() + 180
    while video.status not in ("completed", "failed"):
        assert time.monotonic() < deadline, f"{video.id} still {video.status}"
        time.sleep(0.05)
        video = client.videos.retrieve(video.id)
        if video.status == "in_progress":
            seen.append((video.model_extra.get("stage"), video.progress, video.model_extra.get("eta_seconds")))
    assert video.status == "completed", video
    print("stages seen", [s for i, s in enumerate(seen) if i == 0 or s[0] != seen[i - 1][0]], "last", seen[-1:])
    post = [(progress, eta) for stage, progress, eta in seen if stage == "post"]
    assert post, seen
    assert all(eta is not None for _, eta in post), post
    progress = [p for _, p, _ in seen]
    assert progress == sorted(progress), seen
    assert min(p for p, _ in post) < 98  # the upscaling is not squeezed into the last percent
