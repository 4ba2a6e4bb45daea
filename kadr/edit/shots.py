"""Shots: one video made of several shots, each with its own prompt, camera, style and duration.

The engine hands a request with ``shots`` to :func:`generate_shots` (one line at the top of
``Engine.generate``). Each shot is planned as a request of its own on the same model, made pass by pass
like any clip (continuing from its last frame where it is longer than one pass), and the shots stream
through one joiner into one encoder: a single encode, memory flat in the length of the video.

Timing. Shot boundaries sit at ``round(cumulative seconds * fps)``, so the whole video has the sum of the
durations and every shot is within one frame of its own. A cut switches at the boundary. A cross-fade
(:data:`CROSSFADE_S`) is centred on it: the outgoing shot is made ``h`` frames longer and the incoming
one starts ``h`` frames early, and those ``2h`` frames are blended, so the total stays the sum.

A consistent look where the shots share a subject: every shot runs on the same model, size, tier and
seed (the same starting noise, so the same composition and palette tendencies), and on one style: a
shot's own style wins, then the request's, then a style the shot's own prompt names, and otherwise the
style the first shot's prompt resolved to. The request's own ``prompt``, when given with shots, is a
description every shot shares (a character, a place) and follows each shot's prompt. A character's
reference picture (``reference_image``) goes to every shot.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np
import torch
from PIL import Image

from kadr.camera import CameraPath
from kadr.errors import GenerationCancelled, InvalidRequestError
from kadr.pipelines import registry
from kadr.pipelines.acceleration import LoraRef, accelerated
from kadr.pipelines.base import IMAGE_TO_VIDEO, TEXT_TO_VIDEO, ModelSpec, VideoBackend
from kadr.post.steps import FrameFunction
from kadr.provenance import output_provenance
from kadr.request import Shot, VideoRequest
from kadr.video.encode import VideoWriter, container_tags, even_size, save_poster

if TYPE_CHECKING:
    from kadr.engine import CancelSignal, Engine, GenerationPlan, ProgressCallback, Result

CROSSFADE_S = 0.5  # a short dissolve: long enough to read as one, short enough to keep the shots' timing


# ---- the shots file (`kadr generate --shots FILE`) ------------------------------------------------

# One shot per line: "5s | pan-left | realistic | Пляж на закате", duration and camera/style optional.
_SECONDS_RE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(?:s|secs?|seconds?|с|сек|секунд[аы]?)?\s*$", re.IGNORECASE)


def load_shots(path: str | Path) -> tuple[Shot, ...]:
    """The shots of a file: a JSON list of {prompt, duration, camera, style}, or a text file, one shot a line.

    Text lines are fields separated by ``|``: the prompt last, before it (in any order) a duration
    (``5s``, ``2.5``), a camera motion (``pan-left``) and a style (``cinematic``). Blank lines and
    lines starting with ``#`` are skipped. Errors name the file and the line.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidRequestError("shots", str(file), "an existing JSON or text file of shots") from None
    except UnicodeDecodeError:
        raise InvalidRequestError("shots", str(file), "a UTF-8 text file") from None
    if text.lstrip().startswith("["):
        return _shots_from_json(text, file)
    return _shots_from_lines(text, file)


def _shots_from_json(text: str, file: Path) -> tuple[Shot, ...]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError("shots", f"{file}: line {exc.lineno}", f"valid JSON ({exc.msg})") from None
    if not isinstance(items, list) or not items:
        raise InvalidRequestError("shots", str(file), "a non-empty JSON list of {prompt, duration, camera, style}")
    return tuple(_shot_at(file, f"shot {i + 1}", lambda item=item: Shot.of(item)) for i, item in enumerate(items))


def _shots_from_lines(text: str, file: Path) -> tuple[Shot, ...]:
    from kadr.camera import validate_motion
    from kadr.request import STYLES

    shots = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        *fields, prompt = [part.strip() for part in line.split("|")]
        values: dict[str, Any] = {"prompt": prompt}
        for value in fields:
            seconds = _SECONDS_RE.match(value)
            if seconds:
                values["duration"] = float(seconds.group(1).replace(",", "."))
            elif value.lower() in STYLES:
                values["style"] = value.lower()
            else:
                values["camera"] = _shot_at(file, f"line {number}", lambda v=value: validate_motion(v, "shots.camera"))
        shots.append(_shot_at(file, f"line {number}", lambda v=values: Shot(**v)))
    if not shots:
        raise InvalidRequestError("shots", str(file), "at least one shot (one line: `5s | pan-left | prompt`)")
    return tuple(shots)


def _shot_at(file: Path, where: str, build: Callable[[], Any]) -> Any:
    """``build()``, its InvalidRequestError prefixed with the file and line it came from."""
    try:
        return build()
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"{file}: {where}: {exc.field}", exc.value, exc.allowed) from None
    except TypeError:
        raise InvalidRequestError(f"{file}: {where}", "a shot", "fields prompt, duration, camera, style") from None


# ---- planning -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShotLayout:
    """One shot in the video: its plan (frames it is made with) and where its own frames sit in the output."""

    shot: Shot
    plan: "GenerationPlan"  # num_frames = lead_in + frames + tail
    start: int  # output index of the shot's first own frame (the boundary with the previous shot)
    frames: int  # output frames the shot owns, boundary to boundary
    lead_in: int  # frames made before ``start`` (blended with the previous shot's tail)
    tail: int  # frames made after its end (blended with the next shot's lead-in)

    def describe(self) -> dict[str, Any]:
        return {"prompt": self.shot.prompt, "duration": self.shot.duration, "camera": self.plan.camera,
                "style": self.plan.style, "start_frame": self.start, "frames": self.frames,
                "start_s": round(self.start / self.plan.fps, 3)}


def plan_shots(engine: "Engine", request: VideoRequest, spec: ModelSpec | None = None) -> list[ShotLayout]:
    """Each shot fitted to one model, with the seed and style they share and their frame spans."""
    from kadr.engine import _chunk_frames, check_features

    if not request.shots:
        raise InvalidRequestError("shots", "none", "at least one shot")
    if request.loop:
        raise InvalidRequestError("loop", True, "no loop for a video of shots (the last shot does not flow into the first)")
    if spec is None:
        spec = registry.get_spec(request.model) if request.model else registry.model_for_tier(request.tier, TEXT_TO_VIDEO, request.features)
    check_features(request, spec)
    seed = request.seed if request.seed is not None else secrets.randbits(32)
    shared = request.prompt  # what every shot shares, after its own prompt ("" for none)
    per_shot = request.with_(prompt=request.shots[0].prompt, shots=(), transition="cut", seed=seed)

    first = engine.plan(_shot_request(per_shot, request.shots[0], request.style, shared), spec)
    fps = first.fps
    half = round(CROSSFADE_S * fps / 2) if request.transition == "crossfade" and len(request.shots) > 1 else 0
    bounds = _boundaries([shot.duration for shot in request.shots], fps)
    layouts = []
    for index, shot in enumerate(request.shots):
        plan = first if index == 0 else engine.plan(_shot_request(per_shot, shot, request.style, shared), spec)
        if plan.style is None and first.style is not None:  # no style of its own: the first shot's look
            plan = engine.plan(_shot_request(per_shot, shot, first.style, shared), spec)
        lead_in = half if index > 0 else 0
        tail = half if index < len(request.shots) - 1 else 0
        frames = bounds[index + 1] - bounds[index]
        made = lead_in + frames + tail
        chunks = _chunk_frames(spec, made)
        if len(chunks) > 1 and IMAGE_TO_VIDEO not in spec.tasks:
            longest = (spec.frame_rule.maximum - lead_in - tail) / fps
            raise InvalidRequestError(f"shots[{index}].duration", shot.duration,
                                      f"at most {longest:g} s with {spec.name} (one pass; it cannot continue a clip)")
        # The shot's plan makes exactly its frames plus the blended ones; nothing else in it changes.
        plan = replace(plan, num_frames=made, chunk_frames=tuple(chunks), duration=frames / fps, loop_overlap=0)
        layouts.append(ShotLayout(shot, plan, bounds[index], frames, lead_in, tail))
    return layouts


def _shot_request(base: VideoRequest, shot: Shot, fallback_style: str | None, shared: str) -> VideoRequest:
    prompt = f"{shot.prompt.rstrip('. ')}. {shared}" if shared else shot.prompt
    return base.with_(prompt=prompt, duration=shot.duration, camera=shot.camera or base.camera,
                      style=shot.style or fallback_style)


def _boundaries(durations: Sequence[float], fps: int) -> list[int]:
    """Output frame index where each shot starts, and the total: rounded cumulative seconds."""
    total, bounds = 0.0, [0]
    for seconds in durations:
        total += seconds
        bounds.append(round(total * fps))
    return bounds


# ---- joining ------------------------------------------------------------------------------------


class ShotJoiner:
    """Streams the shots' frames into one sequence: cuts pass frames through, cross-fades blend ``2h`` frames.

    Frames of each shot arrive in order (any chunking); only the outgoing shot's last ``2 * tail`` frames
    are held until the next shot's first frames arrive to blend with.
    """

    def __init__(self, layouts: Sequence[ShotLayout]) -> None:
        self.layouts = list(layouts)
        self._shot = 0
        self._position = 0  # index of the next frame within the current shot's made frames
        self._held: np.ndarray | None = None  # the previous shot's frames to blend with, (2h, H, W, 3)
        self._holding: list[np.ndarray] = []

    def add(self, shot: int, frames: np.ndarray) -> np.ndarray:
        """Frames of ``shot`` (continuing where its last ones stopped) -> output frames ready now."""
        if shot != self._shot:
            self._next_shot(shot)
        layout = self.layouts[shot]
        made = layout.lead_in + layout.frames + layout.tail
        g = np.arange(self._position, self._position + len(frames))  # (n,) indices within the shot
        self._position += len(frames)
        if self._position > made:
            raise ValueError(f"shot {shot}: {self._position} frames for a shot made of {made}")
        out = frames.copy()
        blend_in = g < 2 * layout.lead_in
        if blend_in.any():
            assert self._held is not None
            idx = g[blend_in]
            weight = ((idx + 0.5) / (2 * layout.lead_in)).astype(np.float32)[:, None, None, None]  # incoming share
            mixed = (1.0 - weight) * self._held[idx] + weight * frames[blend_in]
            out[blend_in] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
        keep = g >= made - 2 * layout.tail  # held for the next shot's lead-in (none when tail == 0)
        if keep.any():
            self._holding.append(frames[keep])
        return out[~keep]

    def _next_shot(self, shot: int) -> None:
        done = self.layouts[self._shot]
        expected = done.lead_in + done.frames + done.tail
        if shot != self._shot + 1 or self._position != expected:
            raise ValueError(f"shot {self._shot} gave {self._position} of {expected} frames before shot {shot}")
        self._held = np.concatenate(self._holding) if self._holding else None
        self._holding = []
        self._shot, self._position = shot, 0


# ---- running ------------------------------------------------------------------------------------


class _ShotsProgress:
    """Progress over every pass of every shot (the engine's Progress, one ETA for the whole video)."""

    def __init__(self, layouts: Sequence[ShotLayout], report: "ProgressCallback", is_cancelled: Callable[[], bool]) -> None:
        from kadr.engine import Progress

        self._progress_type = Progress
        self.report = report
        self.is_cancelled = is_cancelled
        self.passes = [layout.plan.steps for layout in layouts for _ in layout.plan.chunk_frames]  # steps per pass
        self.total = sum(self.passes)
        self.index = 0
        self.before = 0  # plan steps of the passes already done
        self.done = 0
        self.fraction = 0.0
        self.started = time.perf_counter()

    def start_pass(self, index: int) -> None:
        self.index = index
        self.before = sum(self.passes[:index])
        self.done = self.before
        self.fraction = self.before / max(1, self.total)
        self._report()

    def on_step(self, step_index: int, total_steps: int) -> None:
        if self.is_cancelled():
            raise GenerationCancelled("cancelled")
        within = min(1.0, (step_index + 1) / max(1, total_steps))
        per_pass = self.passes[self.index]
        self.done = self.before + max(1, round(within * per_pass))
        self.fraction = (self.before + within * per_pass) / max(1, self.total)
        self._report()

    def stage(self, stage: str, fraction: float) -> None:
        self.report(self._progress_type(stage, self.done, self.total, fraction, 0.0, len(self.passes), len(self.passes)))

    def _report(self) -> None:
        eta = None
        if self.fraction > 0:
            eta = round((time.perf_counter() - self.started) / self.fraction * (1 - self.fraction), 2)
        self.report(self._progress_type("generate", self.done, self.total, self.fraction * 0.98, eta,
                                        self.index + 1, len(self.passes)))


def shot_passes(model: VideoBackend, plan: "GenerationPlan", progress: _ShotsProgress, first_pass: int,
                reference: Image.Image | None = None) -> Iterator[np.ndarray]:
    """The frames of one shot, pass by pass, as the engine makes a clip (:func:`kadr.engine.run_passes`):
    a continuation pass starts on the previous pass's last frame, and the pass steps run on each pass."""
    from kadr.engine import post_stages, run_passes

    covered = plan.chunk_frames[0] + sum(n - 1 for n in plan.chunk_frames[1:])
    camera = CameraPath.from_motion(plan.camera, covered, plan.fps, plan.camera_speed)
    generator = torch.Generator(device="cpu").manual_seed(plan.seed)
    pass_steps, _ = post_stages(plan, None, camera)
    yield from run_passes(model, plan, camera, generator, pass_steps,
                          on_pass_start=lambda index: progress.start_pass(first_pass + index), on_step=progress.on_step,
                          is_cancelled=progress.is_cancelled,
                          extra={"reference_image": reference} if reference is not None else None)


def generate_shots(
    engine: "Engine",
    request: VideoRequest,
    output: str | Path | None = None,
    *,
    on_progress: "ProgressCallback | None" = None,
    cancel: "CancelSignal | Callable[[], bool] | None" = None,
    backend: VideoBackend | None = None,
    loras: Sequence[LoraRef] = (),
) -> "Result":
    """Make the video of ``request.shots`` and write it to ``output``: shots joined, one encode.

    The arguments are :meth:`kadr.engine.Engine.generate`'s, which dispatches here.
    """
    from kadr.engine import Progress, Result, _cancel_checker, post_stages

    t_start = time.perf_counter()
    is_cancelled = _cancel_checker(cancel)
    report = on_progress or (lambda _p: None)
    # 1. Plan every shot on one model (validation before anything loads).
    layouts = plan_shots(engine, request, backend.spec if backend is not None else None)
    first = layouts[0].plan
    spec = first.spec
    if loras and not spec.takes_lora:
        able = ", ".join(s.name for s in registry.all_specs() if s.takes_lora)
        raise InvalidRequestError("lora", loras[0].path, f"no LoRA for {spec.name}; models that take one: {able}")
    passes = sum(len(layout.plan.chunk_frames) for layout in layouts)
    report(Progress("plan", 0, 0, 0.0, None, 0, passes))
    path = Path(output) if output is not None else engine.default_output(first, request.format)
    poster_path = path.with_suffix(".png")

    # 2. The model, once for all shots.
    model, load_s = engine.load_for(first, request.tier, backend, report, is_cancelled, passes)
    reference = _fitted_reference(request, first)

    # 3. The output stream: the whole video's output steps, the provenance mark, one encoder.
    total_frames = sum(layout.frames for layout in layouts)
    video_plan = replace(first, num_frames=total_frames, duration=total_frames / first.fps, loop_overlap=0)
    _, output_steps = post_stages(video_plan, None, CameraPath.from_motion("static", 1, first.fps))
    out_width, out_height = output_steps.output_size(first.width, first.height)
    out_fps = output_steps.output_fps(first.fps)
    prompts = " | ".join(layout.shot.prompt for layout in layouts) + (f" || {request.prompt}" if request.prompt else "")
    tags = container_tags(prompts, spec.name, first.seed, {"shots": len(layouts), "transition": request.transition,
                                                           "tier": request.tier})
    marked = output_provenance(model=spec.name, family=spec.family, task=TEXT_TO_VIDEO, output=path,
                               size=even_size(out_width, out_height), input_image=reference)
    if marked.payload is not None:
        mark_w, mark_h = even_size(out_width, out_height)
        output_steps.append(FrameFunction("watermark", lambda frames: marked.mark(frames[:, :mark_h, :mark_w])))

    progress = _ShotsProgress(layouts, report, is_cancelled)
    joiner = ShotJoiner(layouts)
    poster: np.ndarray | None = None
    encode_s = post_s = 0.0  # the output steps' time (upscaling, smoothing), then the encoder's
    with accelerated(model, cache=first.cache, loras=first.tier_loras + tuple(loras),
                     num_inference_steps=first.steps) as speedups, \
            VideoWriter(path, fps=round(out_fps), width=out_width, height=out_height, fmt=request.format, tags=tags,
                        provenance=marked.record) as writer:
        pass_index = 0
        for index, layout in enumerate(layouts):
            # 4. Each shot's passes -> the joiner (cut or cross-fade) -> the output steps -> the encoder.
            for frames in shot_passes(model, layout.plan, progress, pass_index, reference):
                t_post = time.perf_counter()
                ready = output_steps.process(joiner.add(index, frames))
                t_enc = time.perf_counter()
                post_s += t_enc - t_post
                if len(ready):
                    if poster is None:
                        poster = ready[min(len(ready) - 1, first.fps // 2)].copy()
                    writer.write(ready)
                encode_s += time.perf_counter() - t_enc
            pass_index += len(layout.plan.chunk_frames)
        t_post = time.perf_counter()
        tail = output_steps.flush()
        post_s += time.perf_counter() - t_post
        if tail is not None and len(tail):
            writer.write(tail)
            poster = tail[0].copy() if poster is None else poster
        progress.stage("encode", 0.99)
        t_enc = time.perf_counter()
    encode_s += time.perf_counter() - t_enc
    if poster is None:
        raise RuntimeError("no frames were made for the shots")
    save_poster(poster, poster_path, marked.record)
    total_s = time.perf_counter() - t_start
    progress.stage("done", 1.0)
    metadata = {
        "path": str(path), "poster": str(poster_path), "model": spec.name, "task": TEXT_TO_VIDEO, "seed": first.seed,
        "frames": writer.frames_written, "fps": writer.fps, "width": writer.width, "height": writer.height,
        "duration": round(writer.frames_written / writer.fps, 3), "aspect": first.aspect, "format": request.format,
        "tier": request.tier, "steps": first.steps, "chunks": passes, "camera": first.camera, "style": first.style,
        "prompt": prompts, "final_prompt": " | ".join(layout.plan.prompt for layout in layouts),
        "shots": [layout.describe() for layout in layouts], "transition": request.transition,
        "warnings": sorted({note for layout in layouts for note in layout.plan.warnings}),
        "image": None, "post": output_steps.describe(),
        "acceleration": {**getattr(model, "load_report", {"attention": "sdpa", "compile": None}), **speedups},
        "provenance": marked.summary(),
        "timings": {"load": round(load_s, 3), "generate": round(max(0.0, total_s - load_s - encode_s - post_s), 3),
                    "post": round(post_s, 3), "encode": round(encode_s, 3), "total": round(total_s, 3)},
    }
    return Result(path=path, poster_path=poster_path, metadata=metadata)


def _fitted_reference(request: VideoRequest, plan: "GenerationPlan") -> Image.Image | None:
    """The character's picture at the video's size, as the backends take it (kadr.edit.reference)."""
    if request.reference_image is None:
        return None
    from kadr.picture import fit_picture

    return fit_picture(request.reference_image, plan.width, plan.height).frame


__all__ = ["CROSSFADE_S", "ShotJoiner", "ShotLayout", "generate_shots", "load_shots", "plan_shots", "shot_passes"]
