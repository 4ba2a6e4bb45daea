"""The official `openai` package against a live `kadr serve` on loopback, unchanged."""

from __future__ import annotations

import io
import time
import warnings

import av
import numpy as np
import openai
import pytest
from PIL import Image

warnings.filterwarnings("ignore", category=DeprecationWarning)  # openai marks the Videos API deprecated


@pytest.fixture
def client(live_server, user_factory) -> openai.OpenAI:
    key, _ = user_factory()
    return openai.OpenAI(base_url=live_server.url + "/v1", api_key=key, max_retries=0, timeout=60)


def poll(client: openai.OpenAI, video_id: str, timeout: float = 120) -> tuple[object, list[tuple[str, int]]]:
    seen: list[tuple[str, int]] = []
    deadline = time.monotonic() + timeout
    while True:
        video = client.videos.retrieve(video_id)
        if not seen or seen[-1] != (video.status, video.progress):
            seen.append((video.status, video.progress))
        if video.status in ("completed", "failed"):
            return video, seen
        assert time.monotonic() < deadline, f"{video_id} still {video.status} after {timeout} s: {seen}"
        time.sleep(0.05)


def decode(data: bytes) -> tuple[np.ndarray, float]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return frames, float(stream.average_rate)


def test_create_poll_download_list_delete(client: openai.OpenAI) -> None:
    video = client.videos.create(prompt="Закат над морем, волны, панорама слева направо", seconds="4",
                                 size="128x72", extra_body={"fps": 8, "seed": 11, "style": "cinematic"})
    assert video.object == "video" and video.status == "queued" and video.id.startswith("video_")
    assert (video.model, video.seconds, video.size, video.progress) == ("kadr-tiny", "4", "128x72", 0)
    extra = video.model_extra
    assert extra["seed"] == 11 and extra["style"] == "cinematic" and extra["camera"] == "pan_right"
    done, seen = poll(client, video.id)
    assert done.status == "completed" and done.progress == 100 and done.error is None
    assert done.completed_at >= done.created_at and done.expires_at > done.completed_at
    progress = [p for s, p in seen if s == "in_progress"]
    assert progress == sorted(progress)  # progress never goes back

    frames, fps = decode(client.videos.download_content(video.id, variant="video").content)
    assert frames.shape == (32, 72, 128, 3) and fps == 8  # 4 s at 8 fps, at the size asked for
    assert frames.std() > 5  # a picture, not a flat frame
    poster = Image.open(io.BytesIO(client.videos.download_content(video.id, variant="thumbnail").content))
    assert poster.format == "PNG" and poster.size == (128, 72)
    sprites = Image.open(io.BytesIO(client.videos.download_content(video.id, variant="spritesheet").content))
    assert sprites.format == "JPEG" and sprites.size == (4 * 128, 4 * 72)  # 16 frames, 4 a row

    other = client.videos.create(prompt="a red ball rolls on the grass", seconds="1", size="64x64", extra_body={"fps": 8})
    page = client.videos.list(limit=1, order="desc")
    assert [v.id for v in page.data] == [other.id] and page.has_more
    assert [v.id for v in client.videos.list(order="asc")] == [video.id, other.id]  # auto-paging follows last_id
    deleted = client.videos.delete(video.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (video.id, True, "video.deleted")
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(video.id)
    poll(client, other.id)


def test_openai_sizes_and_names_map_to_the_model(client: openai.OpenAI) -> None:
    wide = client.videos.create(prompt="a city at night", model="sora-2", seconds="8", size="1280x720")
    tall = client.videos.create(prompt="a city at night", model="sora-2-pro", seconds="12", size="720x1280")
    assert (wide.model, wide.size, wide.seconds, wide.model_extra["quality"]) == ("kadr-tiny", "256x144", "8", "fast")
    assert (tall.size, tall.model_extra["quality"], tall.model_extra["aspect"]) == ("216x384", "high", "9:16")
    for v in (wide, tall):
        client.videos.delete(v.id)  # canceled before they cost the workers time


def test_image_to_video_with_input_reference(client: openai.OpenAI) -> None:
    image = np.zeros((144, 256, 3), np.uint8)
    image[:, :128] = (220, 40, 30)
    image[:, 128:] = (30, 60, 200)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    video = client.videos.create(prompt="the camera slowly zooms in", seconds="1", size="256x144",
                                 input_reference=("start.png", buffer.getvalue(), "image/png"), extra_body={"fps": 8})
    assert video.model_extra["image_to_video"] is True
    done, _ = poll(client, video.id)
    assert done.status == "completed", done.error
    frames, _ = decode(client.videos.download_content(video.id).content)
    first = frames[0].astype(float)
    # The first frame is the image: red left half, blue right half (H.264 blurs the edge a little).
    assert np.abs(first[:, :100] - (220, 40, 30)).mean() < 25
    assert np.abs(first[:, 156:] - (30, 60, 200)).mean() < 25


def test_errors_in_openai_shape(live_server, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client.videos.create(prompt="waves", seconds="45")
    assert bad.value.body["param"] == "seconds" and "1 to 30" in bad.value.body["message"]
    with pytest.raises(openai.BadRequestError) as unknown:
        client.videos.create(prompt="waves", extra_body={"camra": "zoom_in"})
    assert unknown.value.body["code"] == "unknown_parameter" and unknown.value.body["param"] == "camra"
    with pytest.raises(openai.BadRequestError) as camera:
        client.videos.create(prompt="waves", extra_body={"camera": "sideways"})
    assert camera.value.body["param"] == "camera"
    with pytest.raises(openai.BadRequestError) as model:
        client.videos.create(prompt="waves", model="no-such-model")
    assert model.value.body["param"] == "model" and "kadr-tiny" in model.value.body["message"]
    stranger = openai.OpenAI(base_url=live_server.url + "/v1", api_key="kadr-not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as auth:
        stranger.videos.list()
    assert auth.value.body["code"] == "invalid_api_key"
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve("video_000000000000000000000000")


def test_models_list(client: openai.OpenAI) -> None:
    models = {m.id: m for m in client.models.list()}
    tiny = models["kadr-tiny"]
    assert tiny.object == "model" and tiny.owned_by == "kadr"
    assert set(tiny.model_extra["tiers"]) == {"fast", "high"} and tiny.model_extra["available"] is True
