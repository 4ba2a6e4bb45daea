"""Extending a video with kadr-tiny (shipped weights): the seam does not show, durations add up, and a
30 s video made by extending a 5 s one five times keeps each part's camera move.

Small and short so the file stays within about 20 s on two idle cores: 160x96 at 8 fps.
"""

from __future__ import annotations

import numpy as np
import pytest

from kadr.edit.seam import measure_seam
from kadr.engine import default_engine
from kadr.request import VideoRequest
from kadr.video import checks
from kadr.video.probe import probe, read_frames

SIZE, FPS, PART_S = "160x96", 8, 5
CAMERAS = ("pan_right", "tilt_up", "zoom_in", "pan_left", "tilt_down")  # one per extension
# A seam that does not show lies within the clip's own variation: its change no more than 3 standard
# deviations above the mean change of the frame pairs within 2 s of it (kadr.edit.seam).
MAX_SEAM_Z = 3.0


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> list:
    """The 5 s source, then five extensions of 5 s each, each from the previous file: (path, metadata)."""
    folder = tmp_path_factory.mktemp("extend")
    engine = default_engine()
    first = folder / "part0.mp4"
    made = [(first, engine.generate(VideoRequest(prompt="Горы, снег, голубое небо", duration=PART_S, seed=3,
                                                 camera="pan_right", resolution=SIZE, fps=FPS), first).metadata)]
    for i, camera in enumerate(CAMERAS, start=1):
        out = folder / f"part{i}.mp4"
        request = VideoRequest(source_video=made[-1][0], mode="extend", duration=PART_S, seed=10 + i, camera=camera)
        made.append((out, engine.generate(request, out).metadata))
    return made


def test_durations_add_up_exactly(chain) -> None:
    for i, (path, meta) in enumerate(chain):
        info = probe(path)
        assert info.frames == meta["frames"] == (i + 1) * PART_S * FPS
        assert info.duration == pytest.approx((i + 1) * PART_S, abs=1e-9)
        assert (info.width, info.height) == (160, 96)
    assert chain[-1][1]["duration"] == 30.0
    assert chain[1][1]["prompt"] == "" and "Горы" in chain[1][1]["final_prompt"]  # the source's words went on


def test_each_part_keeps_its_camera_move(chain) -> None:
    frames = read_frames(chain[-1][0])
    n = PART_S * FPS
    labels = [checks.estimate_camera(frames[k * n:(k + 1) * n], fps=FPS).label for k in range(6)]
    assert labels == ["pan_right", *CAMERAS]


def test_the_source_stays_as_it_was(chain) -> None:
    # Each extension re-encodes what it continues (H.264, CRF 20): five generations of it here.
    original = read_frames(chain[0][0])
    final = read_frames(chain[-1][0])[: len(original)]
    assert checks.psnr(final, original) >= 30.0


def test_the_seams_do_not_show(chain) -> None:
    frames = read_frames(chain[-1][0])
    n = PART_S * FPS
    for k in range(1, 6):
        report = measure_seam(frames, k * n, FPS)
        print("extend seam", k, report.as_dict())  # the figures, for -rP / -s
        assert report.frame_difference.z <= MAX_SEAM_Z, (k, report.as_dict())
        assert report.colour_jump.z <= MAX_SEAM_Z, (k, report.as_dict())
    # The same camera on both sides (the first seam): the change there is no larger than the largest within.
    first = measure_seam(frames, n, FPS)
    assert first.frame_difference.ratio_to_max <= 1.0 and first.colour_jump.ratio_to_max <= 1.0, first.as_dict()
    # The measure sees a seam where there is one: skipping 2 s of the same clip (a jump cut) stands out.
    jump = np.concatenate([frames[: 2 * n], frames[2 * n + 2 * FPS:]])
    assert measure_seam(jump, 2 * n, FPS).frame_difference.z > MAX_SEAM_Z
