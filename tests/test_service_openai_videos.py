"""Every method of the official `openai` client's `videos` resource against a live `kadr serve` (issue 18).

Each either works, checked on the video it makes (decoded back), or answers the documented 400 for a model
that cannot do it (code ``unsupported_feature``, the field that asked for it named). Which of the two a
model gives is read from its spec (``ModelSpec.features``), the one place the server reads it too; the
test states each expectation for both, so a feature gained or lost flips it, never skips it.
"""

from __future__ import annotations

import inspect
import io
import warnings

import av
import numpy as np
import openai
import pytest
from PIL import Image

from kadr.pipelines import registry

warnings.filterwarnings("ignore", category=DeprecationWarning)  # openai marks the Videos API deprecated

TINY = registry.get_spec("kadr-tiny")
SMALL = {"seconds": "1", "size": "64x64"}
SMALL_EXTRA = {"fps": 8, "seed": 5}
# The methods this file drives; a method the client gains fails test_every_method_is_driven until it is added.
DRIVEN = {"create", "create_and_poll", "poll", "retrieve", "list", "delete", "download_content", "remix", "edit",
          "extend", "create_character", "get_character"}


@pytest.fixture
def client(live_server, user_factory) -> openai.OpenAI:
    key, _ = user_factory()
    return openai.OpenAI(base_url=live_server.url + "/v1", api_key=key, max_retries=0, timeout=120)


@pytest.fixture
def finished(client: openai.OpenAI):
    """One completed 1 s video, made with create_and_poll (which drives create and poll)."""
    video = client.videos.create_and_poll(prompt="a sunny beach, waves, static camera", **SMALL,
                                          extra_body=SMALL_EXTRA, poll_interval_ms=100)
    assert video.status == "completed", video.error
    return video


def decode(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])  # (F, H, W, 3)


def unsupported(call, param: str) -> dict:
    """The call answers 400 unsupported_feature naming ``param``, and says which models can."""
    with pytest.raises(openai.BadRequestError) as refused:
        call()
    body = refused.value.body
    assert body["code"] == "unsupported_feature" and body["param"] == param, body
    assert "kadr-tiny cannot" in body["message"]
    return body


def test_every_method_is_driven() -> None:
    methods = {name for name, _ in inspect.getmembers(openai.resources.videos.Videos, inspect.isfunction)
               if not name.startswith("_") and not name.startswith("with_")}
    assert methods == DRIVEN


def test_create_and_poll_retrieve_list_download_delete(client: openai.OpenAI, finished) -> None:
    assert (finished.seconds, finished.size, finished.remixed_from_video_id) == ("1", "64x64", None)
    assert client.videos.retrieve(finished.id).status == "completed"
    assert client.videos.poll(finished.id).id == finished.id  # already done: poll returns at once
    frames = decode(client.videos.download_content(finished.id).content)
    assert frames.shape == (8, 64, 64, 3)
    queued = client.videos.create(prompt="a red ball on the grass", **SMALL, extra_body=SMALL_EXTRA)
    assert [v.id for v in client.videos.list(order="asc")] == [finished.id, queued.id]
    assert client.videos.delete(queued.id).deleted


def test_remix_keeps_the_source_and_names_it(client: openai.OpenAI, finished) -> None:
    def remix():
        return client.videos.remix(finished.id, prompt="the same beach at night", extra_body={"strength": 0.5})

    if "remix" not in TINY.features:
        unsupported(remix, "model")
        return
    video = remix()
    assert video.remixed_from_video_id == finished.id and video.model_extra["source"]["kind"] == "remix"
    assert (video.seconds, video.size) == (finished.seconds, finished.size)
    done = client.videos.poll(video.id, poll_interval_ms=100)
    assert done.status == "completed", done.error
    # The same frames, size and rate as the source (how far it changes is the engine's, tested in test_edit_*).
    assert decode(client.videos.download_content(video.id).content).shape == (8, 64, 64, 3)


def test_edit_takes_a_video_id_or_an_uploaded_file(client: openai.OpenAI, finished) -> None:
    data = client.videos.download_content(finished.id).content
    # The client cannot send {"id": …} as `video` itself (it takes `video` for a file), so the id goes in extra_body.
    by_id = lambda: client.videos.edit(prompt="the same beach in the snow", video=openai.omit,  # noqa: E731
                                       extra_body={"video": {"id": finished.id}})
    by_file = lambda: client.videos.edit(prompt="the same beach in the snow",  # noqa: E731
                                         video=("beach.mp4", data, "video/mp4"))
    if "remix" not in TINY.features:
        unsupported(by_id, "model")
        unsupported(by_file, "model")
        return
    edited = by_id()
    assert edited.remixed_from_video_id == finished.id and edited.model_extra["source"]["kind"] == "edit"
    uploaded = by_file()
    assert uploaded.remixed_from_video_id is None and uploaded.model_extra["source"]["video_id"] is None
    for video in (edited, uploaded):
        done = client.videos.poll(video.id, poll_interval_ms=100)
        assert done.status == "completed", done.error
        assert decode(client.videos.download_content(video.id).content).shape == (8, 64, 64, 3)


def test_extend_makes_the_whole_longer_video(client: openai.OpenAI, finished) -> None:
    def extend():
        return client.videos.extend(prompt="", seconds="4", video=openai.omit, extra_body={"video": {"id": finished.id}})

    if "extend" not in TINY.features:
        unsupported(extend, "model")
        return
    source = decode(client.videos.download_content(finished.id).content)
    used = client.get("/usage", cast_to=object)["credits_used"]
    video = extend()
    assert video.seconds == "5" and video.model_extra["source"] == {"kind": "extend", "video_id": finished.id,
                                                                    "seconds": "1"}
    assert video.remixed_from_video_id is None  # OpenAI's field names remixes only
    assert client.get("/usage", cast_to=object)["credits_used"] == used + video.model_extra["cost"]  # an ordinary job
    client.videos.delete(finished.id)  # the extension carries its own copy of the source
    done = client.videos.poll(video.id, poll_interval_ms=100)
    assert done.status == "completed", done.error
    longer = decode(client.videos.download_content(video.id).content)
    assert longer.shape == (40, 64, 64, 3)  # 1 s + 4 s at 8 fps: the durations add up exactly
    # The extension starts with the source itself (re-encoded once: H.264 keeps it within a few levels).
    assert np.abs(longer[:8].astype(float) - source.astype(float)).mean() < 6


def foreign_mp4(frames: int = 8, fps: int = 8, size: int = 64) -> bytes:
    """A video kadr did not make (no kadr tags): a bright bar sliding right over a dark ground."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            picture = np.full((size, size, 3), 40, np.uint8)
            picture[:, 4 * i:4 * i + 12] = (230, 200, 60)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode())
    return buffer.getvalue()


def test_a_video_kadr_did_not_make_is_extended_too(client: openai.OpenAI) -> None:
    if "extend" not in TINY.features:
        unsupported(lambda: client.videos.extend(prompt="", seconds="1", video=("bar.mp4", foreign_mp4(), "video/mp4")),
                    "model")
        return
    video = client.videos.extend(prompt="", seconds="1", video=("bar.mp4", foreign_mp4(), "video/mp4"))
    assert video.model_extra["source"] == {"kind": "extend", "video_id": None, "seconds": "1"}
    done = client.videos.poll(video.id, poll_interval_ms=100)
    assert done.status == "completed", done.error
    assert (done.seconds, done.size) == ("2", "64x64")
    frames = decode(client.videos.download_content(video.id).content)
    assert frames.shape == (16, 64, 64, 3)
    assert frames[7, :, 28:40].mean() > 150  # the source's last frame is there: the bar at 28-40 px


def test_a_remix_is_canceled_and_refunded_like_any_job(client: openai.OpenAI, finished) -> None:
    used = client.get("/usage", cast_to=object)["credits_used"]
    queued = client.videos.create(prompt="a long slow river", seconds="8", size="64x64", extra_body={"fps": 8})
    remix = client.videos.remix(finished.id, prompt="the same beach in the rain")  # waits behind the river
    canceled = client.post(f"/videos/{remix.id}/cancel", cast_to=object)
    assert canceled["kadr_status"] == "canceled" and canceled["remixed_from_video_id"] == finished.id
    client.videos.delete(queued.id)
    assert client.get("/usage", cast_to=object)["credits_used"] == used  # both refunded


def test_what_cannot_be_gone_on_from_is_refused_with_the_field_named(client: openai.OpenAI, live_server, user_factory,
                                                                    finished) -> None:
    with pytest.raises(openai.BadRequestError) as garbage:
        client.videos.edit(prompt="snow", video=("broken.mp4", b"this is no video", "video/mp4"))
    assert garbage.value.body["param"] == "video" and "broken.mp4" in garbage.value.body["message"]
    assert "/" not in garbage.value.body["message"].split("PyAV can read")[1]  # no server path in the message
    with pytest.raises(openai.NotFoundError) as unknown:
        client.videos.remix("video_000000000000000000000000", prompt="snow")
    assert unknown.value.body["code"] == "not_found"
    with pytest.raises(openai.NotFoundError) as unknown_ref:
        client.videos.extend(prompt="", seconds="4", video=openai.omit,
                             extra_body={"video": {"id": "video_000000000000000000000000"}})
    assert unknown_ref.value.body["param"] == "video"
    with pytest.raises(openai.BadRequestError) as too_long:  # 1 s + 30 s is over 30 s
        client.videos.extend(prompt="", seconds=30, video=openai.omit, extra_body={"video": {"id": finished.id}})
    assert too_long.value.body["param"] == "seconds" and "at most 29 s more" in too_long.value.body["message"]
    with pytest.raises(openai.BadRequestError) as both:
        client.videos.create_character(name="Ann", video=("a.png", b"x", "image/png"),
                                       extra_body={"image": "data:image/png;base64,AAAA"})
    assert both.value.body["param"] == "video"
    queued = client.videos.create(prompt="a slow river", seconds="4", size="64x64", extra_body={"fps": 8})
    with pytest.raises(openai.ConflictError) as not_done:
        client.videos.remix(queued.id, prompt="a fast river")
    assert "only a completed video" in not_done.value.body["message"]
    client.videos.delete(queued.id)
    # Another user's video is no video of theirs to go on from.
    other_key, _ = user_factory()
    other = openai.OpenAI(base_url=live_server.url + "/v1", api_key=other_key, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        other.videos.remix(finished.id, prompt="snow")
    with pytest.raises(openai.NotFoundError):
        other.videos.create_character(name="x", video=openai.omit, extra_body={"video": {"id": finished.id}})


def test_characters_store_a_picture_from_a_video_or_an_image(client: openai.OpenAI, live_server, user_factory,
                                                             finished) -> None:
    data = client.videos.download_content(finished.id).content
    from_file = client.videos.create_character(name="Волна", video=("beach.mp4", data, "video/mp4"))
    assert from_file.id.startswith("char_") and from_file.name == "Волна" and from_file.created_at > 0
    assert from_file.model_extra["source"] == "video"
    got = client.videos.get_character(from_file.id)
    assert (got.id, got.name, got.created_at) == (from_file.id, from_file.name, from_file.created_at)
    # The picture is one of the video's own frames (the sharpest, as kadr.edit.reference picks it).
    frames = decode(data).astype(float)
    picture = np.asarray(Image.open(io.BytesIO(client.get(f"/videos/characters/{from_file.id}/content",
                                                          cast_to=openai._legacy_response.HttpxBinaryResponseContent)
                                               .content)).convert("RGB"), float)
    assert picture.shape == (64, 64, 3) and min(np.abs(picture - frame).mean() for frame in frames) < 1
    from_video = client.videos.create_character(name="Beach", video=openai.omit, extra_body={"video": {"id": finished.id}})
    assert from_video.model_extra["source_video_id"] == finished.id
    image = np.zeros((48, 80, 3), np.uint8)
    image[:, :40] = (200, 30, 30)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    from_picture = client.videos.create_character(name="Red", video=("red.png", buffer.getvalue(), "image/png"))
    assert (from_picture.model_extra["width"], from_picture.model_extra["height"]) == (80, 48)
    assert from_picture.model_extra["source"] == "image"
    # Characters are per user.
    other_key, _ = user_factory()
    other = openai.OpenAI(base_url=live_server.url + "/v1", api_key=other_key, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        other.videos.get_character(from_file.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.get_character("char_000000000000000000000000")


def test_a_create_that_names_a_character_gets_its_picture_or_a_clear_error(client: openai.OpenAI, finished) -> None:
    character = client.videos.create_character(name="Beach", video=openai.omit, extra_body={"video": {"id": finished.id}})

    def create():
        return client.videos.create(prompt="a walk on the beach", **SMALL,
                                    extra_body={**SMALL_EXTRA, "characters": [character.id]})

    if "reference" not in TINY.features:
        body = unsupported(create, "characters")
        assert "take a character's reference picture" in body["message"]
    else:
        done = client.videos.poll(create().id, poll_interval_ms=100)
        assert done.status == "completed", done.error
    with pytest.raises(openai.NotFoundError) as unknown:
        client.videos.create(prompt="a walk", **SMALL, extra_body={"characters": ["char_000000000000000000000000"]})
    assert unknown.value.body["param"] == "characters"


def test_first_and_last_frame_and_shots_on_create(client: openai.OpenAI) -> None:
    first, last = (np.full((64, 64, 3), value, np.uint8) for value in (30, 220))
    pngs = []
    for image in (first, last):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        pngs.append(buffer.getvalue())

    def first_last():
        import base64

        return client.videos.create(prompt="the light comes up", **SMALL, input_reference=("first.png", pngs[0], "image/png"),
                                    extra_body={**SMALL_EXTRA, "last_image": "data:image/png;base64,"
                                                + base64.b64encode(pngs[1]).decode()})

    if "first-last-frame" not in TINY.features:
        unsupported(first_last, "last_image")
    else:
        done = client.videos.poll(first_last().id, poll_interval_ms=100)
        assert done.status == "completed", done.error
        frames = decode(client.videos.download_content(done.id).content).astype(float)
        # It starts on the dark picture and ends near the bright one: the last picture reached the worker (how
        # close it lands is the engine's, measured as PSNR in tests/test_edit_*).
        assert abs(frames[0].mean() - 30) < 12 and frames[-1].mean() > 180

    shots = [{"prompt": "a beach by day", "duration": 1, "camera": "static"},
             {"prompt": "a forest by day", "duration": 2, "camera": "pan_left"}]

    def with_shots():
        import json

        return client.videos.create(prompt="two places", size="64x64",
                                    extra_body={"fps": 8, "seed": 3, "shots": json.dumps(shots)})

    if "shots" not in TINY.features:
        unsupported(with_shots, "shots")
    else:
        video = with_shots()
        assert video.seconds == "3" and [s["prompt"] for s in video.model_extra["shots"]] == ["a beach by day",
                                                                                            "a forest by day"]
        done = client.videos.poll(video.id, poll_interval_ms=100)
        assert done.status == "completed", done.error
        assert decode(client.videos.download_content(done.id).content).shape[0] == 24  # 1 s + 2 s at 8 fps
