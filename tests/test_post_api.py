"""Upscale and smooth motion through the live API: the official `openai` client (JSON) and a form body, the
MP4 downloaded and decoded (tiny sizes: 64x64, 1 s)."""

from __future__ import annotations

import io
import time
import warnings

import av
import httpx
import numpy as np
import openai
import pytest
from PIL import Image

warnings.filterwarnings("ignore", category=DeprecationWarning)  # openai marks the Videos API deprecated


def _done(client: openai.OpenAI, video_id: str, timeout: float = 180) -> object:
    deadline = time.monotonic() + timeout
    while True:
        video = client.videos.retrieve(video_id)
        if video.status in ("completed", "failed"):
            return video
        assert time.monotonic() < deadline, f"{video_id} still {video.status} after {timeout} s"
        time.sleep(0.1)


def _decode(data: bytes) -> tuple[np.ndarray, float]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)]), float(stream.average_rate)


def test_upscale_and_smooth_change_the_delivered_size_and_frame_rate(live_server, user_factory) -> None:
    key, _ = user_factory()
    client = openai.OpenAI(base_url=live_server.url + "/v1", api_key=key, max_retries=0, timeout=60)
    plain = client.videos.create(prompt="Закат над морем, волны", seconds="1", size="64x64", extra_body={"seed": 4})
    post = client.videos.create(prompt="Закат над морем, волны", seconds="1", size="64x64",
                                extra_body={"seed": 4, "upscale": "2x", "smooth": True})
    # The video object says what the file will be before it is made.
    assert (plain.size, plain.model_extra["fps"]) == ("64x64", 24)
    assert (post.size, post.model_extra["fps"]) == ("128x128", 48)
    assert (post.model_extra["upscale"], post.model_extra["smooth"]) == ("2x", True)
    assert (plain.model_extra["upscale"], plain.model_extra["smooth"]) == (None, None)

    # A form body (as the page sends with a picture) reads "true" and the same choices.
    with httpx.Client(base_url=live_server.url, headers={"authorization": f"Bearer {key}"}, timeout=60) as http:
        form = http.post("/v1/videos", files={"prompt": (None, "waves"), "seconds": (None, "1"), "size": (None, "64x64"),
                                              "smooth": (None, "true")})
        assert form.status_code == 200, form.text
        assert (form.json()["size"], form.json()["fps"], form.json()["smooth"]) == ("64x64", 48, True)
        bad = http.post("/v1/videos", json={"prompt": "waves", "upscale": "8x"})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "upscale", bad.text
        assert "720p" in bad.json()["error"]["message"]
        bad = http.post("/v1/videos", json={"prompt": "waves", "smooth": "yes"})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "smooth", bad.text

    for video in (plain, post):
        assert _done(client, video.id).status == "completed"
    small, small_fps = _decode(client.videos.download_content(plain.id, variant="video").content)
    big, big_fps = _decode(client.videos.download_content(post.id, variant="video").content)
    assert small.shape == (24, 64, 64, 3) and small_fps == 24
    assert big.shape == (48, 128, 128, 3) and big_fps == 48
    poster = Image.open(io.BytesIO(client.videos.download_content(post.id, variant="thumbnail").content))
    assert poster.size == (128, 128)
    assert _done(client, form.json()["id"]).status == "completed"
