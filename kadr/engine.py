"""generate(): request -> plan -> pipeline -> post-processing -> encoder.

The engine owns everything around the model: choosing it, fitting the request to its constraints,
making long videos as consecutive chunks that continue from the previous chunk's last frame,
streaming each chunk into the encoder (memory stays flat however long the video), progress with an
ETA, and cancel within one denoising step with no partial file left.

It knows nothing about whether it runs under the CLI, a service worker thread or a Ray actor.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
import warnings
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol, Sequence

import numpy as np
import torch
from PIL import Image

from kadr.camera import CAMERA_MOTIONS, CameraPath
from kadr.edit.reference import check_reference
from kadr.edit.source import SourceInfo, read_source_frames, read_source_info
from kadr.errors import GenerationCancelled, InvalidRequestError, ModelNotAvailableError
from kadr.pipelines import registry
from kadr.pipelines.acceleration import CachePolicy, LoraRef, accelerated, compile_denoisers, denoisers, resolve_cache
from kadr.pipelines.base import FEATURES, IMAGE_TO_VIDEO, ModelSpec, VideoBackend
from kadr.picture import FittedPicture, fit_picture
from kadr.post.choices import PostChoice, choose_post
from kadr.post.fidelity import PhotoAnchor
from kadr.post.interpolate import Interpolate
from kadr.post.steps import ChunkInfo, FrameFunction, KeepPhoto, LoopBlend, MatchColours, PostStage
from kadr.post.upscale import Upscale, realesrgan_available
from kadr.provenance import output_provenance
from kadr.request import (ASPECTS, DEFAULT_ASPECT, DEFAULT_DURATION_S, MAX_DURATION_S, MIN_DURATION_S, VideoRequest,
                          parse_size)
from kadr.video.encode import VideoWriter, container_tags, even_size, save_poster

if TYPE_CHECKING:
    from kadr.prompt import PromptPlan

log = logging.getLogger("kadr.engine")

LOOP_OVERLAP_S = 0.5  # seconds cross-faded at the end of a looping video
# Output steps that take real time per frame (Real-ESRGAN: about a second a frame on a CPU): with one of them
# the run reports a "post" stage, frames done of all, and the ETA counts their pace.
SLOW_OUTPUT_STEPS = frozenset({"upscale", "interpolate"})
POST_SLICE = 4  # frames through the output steps between two progress reports


class CancelSignal(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class Progress:
    """One progress report. ``fraction`` is overall completion in [0, 1]."""

    stage: str  # "plan" | "load" | "generate" | "post" | "encode" | "done"
    step: int
    total: int
    fraction: float
    eta_s: float | None
    chunk: int = 0
    chunks: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class GenerationPlan:
    """The request fitted to one model: everything the run needs, decided before anything loads."""

    spec: ModelSpec
    task: str
    aspect: str
    duration: float
    width: int
    height: int
    fps: int
    num_frames: int  # frames in the output file
    chunk_frames: tuple[int, ...]  # frames per model pass; each obeys the model's frame rule
    steps: int
    guidance_scale: float
    prompt: str  # the final prompt the backend receives
    negative_prompt: str
    camera: str
    camera_speed: float
    style: str | None
    seed: int
    loop_overlap: int
    warnings: tuple[str, ...]
    prompt_plan: dict[str, Any] = field(default_factory=dict)
    cache: CachePolicy | None = None  # the step cache the run uses (the tier's, unless the request said otherwise)
    tier_loras: tuple[LoraRef, ...] = ()  # adapters the tier always loads (a step-distillation LoRA)
    # Going on from a source video (request.mode "extend" / "remix"): its facts, and for an extension the
    # frames of the output that are the source's own (written first; the model makes the rest).
    mode: str = "generate"
    source: SourceInfo | None = None
    source_frames: int = 0
    strength: float | None = None  # remix: how far the source is re-noised

    @property
    def generated_frames(self) -> int:
        """Frames the model makes: the output's new frames plus those a loop folds back into the end."""
        return self.num_frames - self.source_frames + self.loop_overlap

    @property
    def continues(self) -> bool:
        """Whether the first pass already continues from a frame (an extension's: the source's last)."""
        return self.mode == "extend"

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON values: the model by name, every other field as it is (tuples as lists).

        Generic over the fields, so a field added to the plan travels without new copying code.
        """
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "spec":
                data["model"] = value.name
            elif f.name == "cache":
                data["cache"] = asdict(value) if value is not None else None
            elif f.name == "tier_loras":
                data["tier_loras"] = [asdict(lora) for lora in value]
            elif f.name == "source":  # an extension's or remix's source video: its facts (the file is the job's)
                data["source"] = asdict(value) if value is not None else None
            else:
                data[f.name] = list(value) if isinstance(value, tuple) else value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], spec: ModelSpec | None = None) -> "GenerationPlan":
        """The plan :meth:`to_dict` wrote; ``spec`` (else the registry's model of that name) is the model it runs."""
        stored = {f.name for f in fields(cls) if f.name != "spec"} | {"model"}  # the model by name, for spec
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING} - {"spec"}
        unknown, missing = sorted(set(data) - stored), sorted((required | {"model"}) - set(data))
        if unknown or missing:
            raise ValueError(f"not a generation plan: unknown fields {unknown}, missing fields {missing}")
        if spec is None:
            spec = registry.get_spec(data["model"])
        elif spec.name != data["model"]:
            raise ValueError(f"the plan is for model {data['model']!r}, not {spec.name!r}")
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "spec" or f.name not in data:
                continue
            value = data[f.name]
            if f.name == "cache":
                value = CachePolicy(**{**value, "mag_ratios": tuple(value.get("mag_ratios", ()))}) if value else None
            elif f.name == "tier_loras":
                value = tuple(LoraRef(**lora) for lora in value)
            elif f.name == "source":
                value = SourceInfo(**value) if value is not None else None
            elif isinstance(value, list):
                value = tuple(value)
            values[f.name] = value
        return cls(spec=spec, **values)


@dataclass
class Result:
    path: Path
    poster_path: Path
    metadata: dict[str, Any]


class Engine:
    """Holds loaded backends (one per model and device) and runs generations; safe to share between threads."""

    def __init__(self, device: str | None = None, output_dir: str | Path = "kadr-outputs", *,
                 attention: str | None = None, compile: bool = False) -> None:
        self.device = device
        self.output_dir = Path(output_dir)
        self.attention = attention  # diffusers attention backend for the models this engine loads (None: auto)
        self.compile = compile  # torch.compile their denoisers' blocks at load
        self._backends: dict[str, VideoBackend] = {}
        self._lock = threading.Lock()

    # ---- planning ---------------------------------------------------------------------------

    def plan(self, request: VideoRequest, spec: ModelSpec | None = None) -> GenerationPlan:
        """Fit the request to a model (``spec``, else the request's model, else its tier's).

        Hard violations raise InvalidRequestError; soft ones (sizes, fps) are rounded with a warning.
        """
        notes: list[str] = []
        task = request.task
        if spec is None:
            spec = registry.get_spec(request.model) if request.model else registry.model_for_tier(request.tier, task, request.features)
        if task not in spec.tasks:
            able = [s.name for s in registry.all_specs() if task in s.tasks]
            raise InvalidRequestError("model", spec.name, f"a model that does {task}: " + ", ".join(able))
        check_features(request, spec)
        check_reference(request, spec)  # a reference the model would have to drop (kadr.edit.reference)

        source = read_source_info(request.source_video) if request.source_video is not None else None
        if source is not None and request.loop:
            raise InvalidRequestError("loop", True, f"no loop when the request is to {request.mode} a video")
        borrowed = source is not None and not request.prompt and bool(source.prompt)
        if borrowed:
            request = request.with_(prompt=source.prompt)  # go on with the source's own words
        understood = _understand_prompt(request)
        prompt_plan = understood.to_dict() if understood is not None else {}
        # Explicit request fields win; then the prompt's hints (then the source's facts); then the defaults.
        aspect = request.aspect or (source.aspect if source is not None else None) or prompt_plan.get("aspect_hint") \
            or DEFAULT_ASPECT
        # (The source's own prompt told its own length, not the extension's.)
        duration = request.duration or (None if borrowed else prompt_plan.get("duration_hint")) or DEFAULT_DURATION_S
        duration = min(max(float(duration), MIN_DURATION_S), MAX_DURATION_S)
        camera, speed = _choose_camera(request, prompt_plan)
        if source is not None and source.camera and request.camera is None and prompt_plan.get("camera") is None:
            camera, speed = source.camera, 1.0  # the source's move goes on
        style = request.style or prompt_plan.get("style")
        notes.extend(prompt_plan.get("warnings", []))

        width, height = _source_size(source, spec, request.tier) if source is not None and not request.resolution else (0, 0)
        if not width:
            width, height = _fit_size(request, aspect, spec, notes)
        fps = request.fps or (round(source.fps) if source is not None else None) or spec.native_fps
        low, high = spec.fps_range
        if not low <= fps <= high:
            clamped = min(max(fps, low), high)
            notes.append(f"fps {fps} is outside {spec.name}'s range {low}-{high}; using {clamped}")
            fps = clamped

        source_frames = 0
        if request.mode == "extend":
            assert source is not None
            source_frames = max(1, round(source.frames * fps / source.fps))
            added = max(1, round(duration * fps))
            if (source_frames + added) / fps > MAX_DURATION_S + 0.5 / fps:
                room = max(0.0, MAX_DURATION_S - source_frames / fps)
                raise InvalidRequestError("duration", duration, f"at most {room:g} s more: the source is "
                                          f"{source_frames / fps:g} s and a video is at most {MAX_DURATION_S:g} s")
            num_frames = source_frames + added
            duration = num_frames / fps
            loop_overlap = 0
            chunks = _continuation_chunks(spec, added)
        else:
            if request.mode == "remix":
                assert source is not None
                whole = round(source.frames * fps / source.fps)
                wanted = round(request.duration * fps) if request.duration else whole
                if whole > MAX_DURATION_S * fps or wanted < whole:
                    notes.append(f"remixing the first {min(wanted, MAX_DURATION_S * fps) / fps:g} s of the "
                                 f"{whole / fps:g} s source")
                duration = max(1, min(whole, wanted, round(MAX_DURATION_S * fps))) / fps
            num_frames = max(1, round(duration * fps))
            loop_overlap = min(round(LOOP_OVERLAP_S * fps), num_frames // 3) if request.loop else 0
            chunks = _chunk_frames(spec, num_frames + loop_overlap)
            if request.last_image is not None:
                if request.loop:
                    raise InvalidRequestError("loop", True, "no loop when the clip must end on last_image")
                # The passes' last frame shows the last picture: keep every frame they make (a few more at most).
                covered = chunks[0] + sum(n - 1 for n in chunks[1:])
                if covered != num_frames:
                    notes.append(f"{num_frames / fps:g} s made {covered / fps:g} s long ({covered} frames, as "
                                 f"{spec.name} makes them) so that the clip ends on the last picture")
                    num_frames, duration = covered, covered / fps
        if len(chunks) > 1 and IMAGE_TO_VIDEO not in spec.tasks:
            raise InvalidRequestError(
                "duration", duration,
                f"at most {spec.longest_clip_s:g} s with {spec.name}, which cannot continue from an image; "
                "pick a model that does image-to-video for longer videos",
            )

        final_prompt = _final_prompt(understood, spec)
        negative = request.negative_prompt if request.negative_prompt is not None else spec.negative_prompt
        seed = request.seed if request.seed is not None else secrets.randbits(32)
        for note in notes:
            warnings.warn(note, stacklevel=2)
        return GenerationPlan(
            spec=spec, task=task, aspect=aspect, duration=duration, width=width, height=height, fps=fps, num_frames=num_frames,
            chunk_frames=tuple(chunks), steps=spec.steps[request.tier], guidance_scale=spec.guidance_for(request.tier),
            prompt=final_prompt, negative_prompt=negative, camera=camera, camera_speed=speed, style=style,
            seed=seed, loop_overlap=loop_overlap, warnings=tuple(notes), prompt_plan=prompt_plan,
            cache=resolve_cache(spec, request.tier, request.cache),
            tier_loras=spec.tier_lora_refs(request.tier) if hasattr(spec, "tier_lora_refs") else (),
            mode=request.mode, source=source, source_frames=source_frames,
            strength=request.remix_strength if request.mode == "remix" else None,
        )

    # ---- models -----------------------------------------------------------------------------

    def backend(self, spec: ModelSpec) -> VideoBackend:
        """The loaded backend for ``spec`` (loaded once, then reused)."""
        with self._lock:
            if spec.name not in self._backends:
                options = {} if spec.builtin else {"attention": self.attention, "compile": self.compile}
                backend = registry.load_backend(spec, device=self.device, **options)
                if spec.builtin and self.compile:
                    backend.load_report = {"attention": "sdpa", "compile": compile_denoisers(denoisers(backend))}
                self._backends[spec.name] = backend
            return self._backends[spec.name]

    def load_for(self, plan: GenerationPlan, tier: str, backend: VideoBackend | None, report: ProgressCallback,
                 is_cancelled: Callable[[], bool], passes: int) -> tuple[VideoBackend, float]:
        """The backend a run uses (``backend`` if given, else loaded) and the seconds loading took.

        Reports the "load" stage; refuses a cancelled run and a tier whose adapter file is missing.
        """
        report(Progress("load", 0, 1, 0.0, None, 0, passes))
        t_load = time.perf_counter()
        model = backend if backend is not None else self.backend(plan.spec)
        load_s = time.perf_counter() - t_load
        if is_cancelled():
            raise GenerationCancelled("cancelled before generation started")
        missing = [lora.path for lora in plan.tier_loras if not Path(lora.path).exists()]
        if missing:
            raise ModelNotAvailableError(f"{plan.spec.name}: the {tier} tier's adapter {missing[0]} is not here; "
                                         f"run `kadr models pull {plan.spec.name}`")
        return model, load_s

    def loaded_models(self) -> list[str]:
        """Names of the models this engine holds loaded (a Ray actor reports them for placement)."""
        with self._lock:
            return list(self._backends)

    # ---- running ----------------------------------------------------------------------------

    def generate(
        self,
        request: VideoRequest,
        output: str | Path | None = None,
        *,
        on_progress: ProgressCallback | None = None,
        cancel: CancelSignal | Callable[[], bool] | None = None,
        backend: VideoBackend | None = None,
        loras: Sequence[LoraRef] = (),
        plan: GenerationPlan | None = None,
    ) -> Result:
        """Make the video for ``request`` and write it to ``output`` (default: ./kadr-outputs/...).

        ``cancel`` is an Event-like object (``is_set()``) or a callable returning True to stop;
        it is checked after every denoising step. ``backend`` overrides the registry's choice
        (tests pass pipelines built from tiny components). ``loras`` are local adapter files loaded
        for this generation only, on top of any the tier loads itself. ``plan`` (made earlier by
        :meth:`plan`, e.g. by the service's API before queueing) is run exactly as given: no planning here.
        """
        if request.shots:  # several shots joined into one video: kadr.edit.shots
            from kadr.edit.shots import generate_shots
            return generate_shots(self, request, output, on_progress=on_progress, cancel=cancel, backend=backend, loras=loras)
        t_start = time.perf_counter()
        is_cancelled = _cancel_checker(cancel)
        report = on_progress or (lambda _p: None)
        if plan is None:
            plan = self.plan(request, backend.spec if backend is not None else None)
        if loras and not plan.spec.takes_lora:
            able = ", ".join(s.name for s in registry.all_specs() if s.takes_lora)
            raise InvalidRequestError("lora", loras[0].path, f"no LoRA for {plan.spec.name}; models that take one: {able}")
        report(Progress("plan", 0, 0, 0.0, None, 0, len(plan.chunk_frames)))
        path = Path(output) if output is not None else self.default_output(plan, request.format)
        poster_path = path.with_suffix(".png")

        model, load_s = self.load_for(plan, request.tier, backend, report, is_cancelled, len(plan.chunk_frames))

        # 1. The camera path: poses for every frame the passes make, trimmed ones included (an extension's
        #    starts on the source's last frame).
        tracker = _StepTracker(plan, report, is_cancelled)
        covered = plan.chunk_frames[0] + sum(n - 1 for n in plan.chunk_frames[1:])
        camera = CameraPath.from_motion(plan.camera, covered, plan.fps, plan.camera_speed)
        generator = torch.Generator(device="cpu").manual_seed(plan.seed)
        fitted = fit_picture(request.image, plan.width, plan.height) if request.image is not None else None
        condition = fitted.frame if fitted is not None else None
        source_frames = None  # the source fitted to the frame (extend: written first; remix: remade pass by pass)
        if plan.source is not None:
            # The file as this process has it (a worker's copy of the job's input), not where the plan was made.
            source = plan.source if request.source_video is None else replace(plan.source, path=str(request.source_video))
            source_frames = read_source_frames(source, plan.width, plan.height, plan.fps,
                                               plan.source_frames if plan.mode == "extend" else plan.num_frames)
            if plan.mode == "extend":
                condition = Image.fromarray(source_frames[-1])
        last = fit_picture(request.last_image, plan.width, plan.height).frame if request.last_image is not None else None
        # 2. Post-processing (kadr.post.steps): steps on each model pass (their last frame conditions the
        #    next pass), then steps on the output stream before the encoder.
        if plan.mode == "remix" or last is not None:
            # The frames are the remade source's, or must arrive at the last picture: colour continuity only
            # (KeepPhoto would hold the first picture or the first remade frame through the whole clip).
            pass_steps, output_steps = post_stages(plan, fitted, camera, request, is_cancelled, keep_photo=False)
        else:
            pass_steps, output_steps = post_stages(plan, fitted, camera, request, is_cancelled)
        out_width, out_height = output_steps.output_size(plan.width, plan.height)
        out_fps = output_steps.output_fps(plan.fps)
        tags = container_tags(request.prompt or (plan.source.prompt if plan.source is not None else ""), plan.spec.name,
                              plan.seed, {"camera": plan.camera, "style": plan.style, "tier": request.tier,
                                          **({"mode": plan.mode} if plan.source is not None else {})})
        # Provenance: a signed C2PA manifest on the file and poster, an invisible mark in the frames.
        marked = output_provenance(model=plan.spec.name, family=plan.spec.family, task=plan.task, output=path,
                                   size=even_size(out_width, out_height), input_image=condition)
        if marked.payload is not None:  # the frame watermark is opt-in (KADR_WATERMARK=1) until it meets its targets
            mark_w, mark_h = even_size(out_width, out_height)  # the encoder's size: the mark is read back at it
            output_steps.append(FrameFunction("watermark", lambda frames: marked.mark(frames[:, :mark_h, :mark_w])))
        post = _PostTracker(plan, output_steps, tracker)  # the output steps, timed (and reported when slow)
        encode_s = 0.0
        poster: np.ndarray | None = None
        with accelerated(model, cache=plan.cache, loras=plan.tier_loras + tuple(loras),
                         num_inference_steps=plan.steps) as speedups, \
                VideoWriter(path, fps=round(out_fps), width=out_width, height=out_height, fmt=request.format, tags=tags,
                            provenance=marked.record) as writer:
            if plan.mode == "extend":
                # 3a. An extension first writes its source, fitted to the frame, as it is.
                assert source_frames is not None
                ready = post.process(source_frames)
                poster = ready[min(len(ready) - 1, plan.fps // 2)].copy() if len(ready) else None
                if len(ready):
                    writer.write(ready)
            # 3. The model's passes (run_passes); 4. their new frames through the output steps into the encoder.
            passes = run_passes(model, plan, camera, generator, pass_steps, condition=condition,
                                on_pass_start=tracker.start_chunk, on_step=tracker.on_step, is_cancelled=is_cancelled,
                                remix_source=source_frames if plan.mode == "remix" else None, last_image=last)
            for new in passes:
                ready = post.process(new)
                t_enc = time.perf_counter()
                if poster is None and len(ready):
                    poster = ready[min(len(ready) - 1, plan.fps // 2)].copy()
                if len(ready):
                    writer.write(ready)
                encode_s += time.perf_counter() - t_enc
            # 5. Frames the output steps still hold, then the encoder's flush.
            tail = post.flush()
            if tail is not None and len(tail):
                writer.write(tail)
                poster = tail[0].copy() if poster is None else poster
            report(Progress("encode", tracker.done, tracker.total, 0.99, 0.0, len(plan.chunk_frames), len(plan.chunk_frames)))
            t_enc = time.perf_counter()
        encode_s += time.perf_counter() - t_enc  # the flush in VideoWriter.__exit__
        assert poster is not None  # at least one frame was written, or VideoWriter raised
        save_poster(poster, poster_path, marked.record)
        total_s = time.perf_counter() - t_start
        generate_s = max(0.0, total_s - load_s - encode_s - post.seconds)
        report(Progress("done", tracker.total, tracker.total, 1.0, 0.0, len(plan.chunk_frames), len(plan.chunk_frames)))
        metadata = {
            "path": str(path),
            "poster": str(poster_path),
            "model": plan.spec.name,
            "task": plan.task,
            "seed": plan.seed,
            "frames": writer.frames_written,
            "fps": writer.fps,
            "width": writer.width,
            "height": writer.height,
            "duration": round(writer.frames_written / writer.fps, 3),
            "aspect": plan.aspect,
            "format": request.format,
            "tier": request.tier,
            "steps": plan.steps,
            "chunks": len(plan.chunk_frames),
            "camera": plan.camera,
            "style": plan.style,
            "prompt": request.prompt,
            "final_prompt": plan.prompt,
            "warnings": list(plan.warnings) + ([fitted.note] if fitted is not None and fitted.note else []),
            "image": None if fitted is None else {"size": list(request.image.size), "fit": fitted.mode},
            "last_image": None if request.last_image is None else {"size": list(request.last_image.size)},
            "source": None if plan.source is None else {
                "mode": plan.mode, "path": plan.source.path, "frames": plan.source.frames, "fps": plan.source.fps,
                "width": plan.source.width, "height": plan.source.height, "frames_kept": plan.source_frames,
                "strength": plan.strength},
            "post": pass_steps.describe() + output_steps.describe(),
            "acceleration": {**getattr(model, "load_report", {"attention": "sdpa", "compile": None}), **speedups},
            "provenance": marked.summary(),
            "timings": {"load": round(load_s, 3), "generate": round(generate_s, 3), "post": round(post.seconds, 3),
                        "encode": round(encode_s, 3), "total": round(total_s, 3)},
        }
        return Result(path=path, poster_path=poster_path, metadata=metadata)

    def default_output(self, plan: GenerationPlan, fmt: str) -> Path:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        return self.output_dir / f"{stamp}-{plan.spec.name}-{plan.seed}.{fmt}"


class _StepTracker:
    """Turns per-step callbacks into Progress reports with an ETA, and raises on cancel.

    Steps are counted in the plan's units (steps per pass x passes), but a pass's progress is its
    share of the steps its pipeline says it takes: kadr-tiny adds a keyframe pass and windows, so one
    pass can take more denoising steps than the plan's.
    """

    def __init__(self, plan: GenerationPlan, report: ProgressCallback, is_cancelled: Callable[[], bool]) -> None:
        self.report = report
        self.is_cancelled = is_cancelled
        self.chunks = len(plan.chunk_frames)
        self.per_chunk = plan.steps
        self.total = plan.steps * self.chunks
        self.done = 0
        self.progress = 0.0  # share of the generation done, 0..1
        self.chunk = 0
        self.started = time.perf_counter()
        self.post: _PostTracker | None = None  # set when output steps run between passes (upscaling, smoothing)
        self.reported = 0.0  # the last fraction reported: progress never goes back

    def start_chunk(self, index: int) -> None:
        self.chunk = index
        self.progress = index / max(1, self.chunks)
        self._report()

    def on_step(self, step_index: int, total_steps: int) -> None:
        if self.is_cancelled():
            raise GenerationCancelled("cancelled")
        within = min(1.0, (step_index + 1) / max(1, total_steps))
        self.done = self.chunk * self.per_chunk + max(1, round(within * self.per_chunk))
        self.progress = (self.chunk + within) / max(1, self.chunks)
        self._report()

    def _report(self) -> None:
        fraction, eta = self.overall()
        self.report(Progress("generate", self.done, self.total, fraction, eta, self.chunk + 1, self.chunks))

    def generation_seconds(self) -> float:
        """Wall time in the passes so far (the output steps' time between them left out)."""
        spent = self.post.seconds if self.post is not None else 0.0
        return max(0.0, time.perf_counter() - self.started - spent)

    def overall(self) -> tuple[float, float | None]:
        """(fraction of the whole run in [0, 0.98], ETA in s): the passes' and the slow output steps' time."""
        if self.progress <= 0.0:
            return self.reported, None
        spent = self.generation_seconds()
        left = spent / self.progress * (1.0 - self.progress)
        if self.post is not None and self.post.slow:
            post_spent, post_left = self.post.estimate(spent / self.progress)
            spent, left = spent + post_spent, left + post_left
        # min: at the last step left is 0, and 0.98 * spent / spent rounds above 0.98 for about 1 spent value in 7.
        fraction = max(self.reported, min(0.98, 0.98 * spent / max(spent + left, 1e-9)))
        self.reported = fraction
        return fraction, round(left, 2)

    def _eta(self) -> float | None:
        return self.overall()[1]


class _PostTracker:
    """The output steps, fed in slices when one is slow: their time, and a "post" stage with frames done.

    Before the first slice is timed, the steps are assumed to take as long as the generation (so the bar does
    not reach 98% while minutes of upscaling are still to come); afterwards their measured pace counts.
    """

    def __init__(self, plan: GenerationPlan, steps: PostStage, tracker: _StepTracker) -> None:
        self.steps = steps
        self.tracker = tracker
        self.slow = any(step.name in SLOW_OUTPUT_STEPS for step in steps.steps)
        self.total = plan.generated_frames + (plan.source_frames if plan.mode == "extend" else 0)
        self.done = 0
        self.seconds = 0.0
        tracker.post = self

    def estimate(self, generation_total_s: float) -> tuple[float, float]:
        """(seconds spent, seconds left) in the output steps; ``generation_total_s`` stands in before any pace."""
        if self.done == 0:
            return 0.0, generation_total_s
        return self.seconds, self.seconds / self.done * max(0, self.total - self.done)

    def process(self, frames: np.ndarray) -> np.ndarray:
        """``frames`` (the model's, or an extension's source) through the output steps."""
        if not self.slow:
            return self._timed(self.steps.process, frames)
        ready = []
        for s in range(0, len(frames), POST_SLICE):
            ready.append(self._timed(self.steps.process, frames[s:s + POST_SLICE]))
            self.done += len(frames[s:s + POST_SLICE])
            self._report()
            if self.tracker.is_cancelled():
                raise GenerationCancelled("cancelled")
        return np.concatenate(ready) if ready else frames[:0]

    def flush(self) -> np.ndarray | None:
        return self._timed(lambda _frames: self.steps.flush(), None)

    def _timed(self, fn: Callable[[Any], Any], frames: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(frames)
        finally:
            self.seconds += time.perf_counter() - started

    def _report(self) -> None:
        fraction, eta = self.tracker.overall()
        self.tracker.report(Progress("post", self.done, self.total, fraction, eta, self.tracker.chunk + 1,
                                     self.tracker.chunks))


# ---- planning helpers -----------------------------------------------------------------------


def check_features(request: VideoRequest, spec: ModelSpec) -> None:
    """Refuse, before anything is stored or loaded, a request asking what ``spec`` cannot do."""
    for feature in request.features:
        if feature not in spec.features:
            able = [s.name for s in registry.all_specs() if feature in s.features]
            allowed = f"a model that can {FEATURES[feature]}: " + ", ".join(able) if able else f"no model here can {FEATURES[feature]}"
            raise InvalidRequestError("model", f"{spec.name} (cannot {FEATURES[feature]})", allowed)


def _chunk_frames(spec: ModelSpec, wanted: int) -> list[int]:
    """Frames per pass so that the passes together cover ``wanted`` frames.

    The first pass makes up to the model's maximum; each continuation pass repeats the previous
    pass's last frame as its first, so it adds (n - 1) new frames.
    """
    rule = spec.frame_rule
    chunks = [rule.ceil(min(wanted, rule.maximum))]
    covered = chunks[0]
    while covered < wanted:
        n = rule.ceil(min(wanted - covered + 1, rule.maximum))
        if n <= 1:
            raise ValueError(f"{spec.name}: frame rule {rule} cannot continue a clip")
        chunks.append(n)
        covered += n - 1
    return chunks


def _continuation_chunks(spec: ModelSpec, added: int) -> list[int]:
    """Frames per pass adding ``added`` frames to a video, every pass starting on the frame before its own."""
    rule = spec.frame_rule
    chunks: list[int] = []
    while sum(n - 1 for n in chunks) < added:
        n = rule.ceil(min(added - sum(n - 1 for n in chunks) + 1, rule.maximum))
        if n <= 1:
            raise ValueError(f"{spec.name}: frame rule {rule} cannot continue a clip")
        chunks.append(n)
    return chunks


def _source_size(source: SourceInfo, spec: ModelSpec, tier: str) -> tuple[int, int]:
    """The source's own size when the model makes it as it is (a multiple of its size step, no larger than
    the model's size for the tier), so an extension or remix goes on at the size it has; else (0, 0)."""
    default = spec.resolution(source.aspect, tier) or spec.resolution(source.aspect, "high")
    fits = source.width % spec.size_multiple == 0 and source.height % spec.size_multiple == 0
    if default is None or not fits or source.width * source.height > default[0] * default[1]:
        return 0, 0
    return source.width, source.height


def _fit_size(request: VideoRequest, aspect: str, spec: ModelSpec, notes: list[str]) -> tuple[int, int]:
    """(width, height) on this model: the explicit size, a preset, or the model's default for the aspect."""
    multiple = spec.size_multiple
    aw, ah = ASPECTS[aspect]
    if request.resolution:
        size = parse_size(request.resolution)
        if size is None:
            if request.resolution not in spec.presets:
                allowed = ", ".join(spec.presets) or "WIDTHxHEIGHT"
                raise InvalidRequestError("resolution", request.resolution, f"for {spec.name}: {allowed}, or WIDTHxHEIGHT")
            short = spec.presets[request.resolution]
            size = (short * aw // ah, short) if aw >= ah else (short, short * ah // aw)
        width, height = size
    else:
        default = spec.resolution(aspect, request.tier)
        if default is not None:
            return default
        # The model has no preset for this aspect: keep the pixel count of its 16:9 size.
        base_w, base_h = spec.resolution("16:9", request.tier) or next(iter(next(iter(spec.resolutions.values())).values()))
        area = base_w * base_h
        height = math.sqrt(area * ah / aw)
        width, height = int(height * aw / ah), int(height)
    rounded = (max(multiple, round(width / multiple) * multiple), max(multiple, round(height / multiple) * multiple))
    rounded = even_size(*rounded)
    if request.resolution and rounded != (width, height):  # a derived size is rounded silently
        notes.append(f"size {width}x{height} rounded to {rounded[0]}x{rounded[1]} (multiple of {multiple} for {spec.name})")
    return rounded


def _understand_prompt(request: VideoRequest) -> "PromptPlan | None":
    """The prompt plan (kadr.prompt), with the request's explicit fields winning; None without a prompt."""
    if not request.prompt:
        return None
    from kadr.prompt import plan_prompt

    return plan_prompt(request.prompt, camera=request.camera, style=request.style, aspect=request.aspect,
                       duration=request.duration, has_image=request.image is not None or request.mode == "extend")


# Motion the text asks for without a direction: a gentle move reads better than a still frame.
_UNDIRECTED = {"lateral": ("pan_right", 1.0), "any_motion": ("pan_right", 0.5)}


def _choose_camera(request: VideoRequest, prompt_plan: dict[str, Any]) -> tuple[str, float]:
    speed = float(prompt_plan.get("camera_speed") or 1.0)
    if request.camera:
        return request.camera, speed
    found = prompt_plan.get("camera")
    if found in CAMERA_MOTIONS:
        return found, speed
    if found in _UNDIRECTED:
        motion, factor = _UNDIRECTED[found]
        return motion, speed * factor
    return "static", 1.0


def _final_prompt(understood: "PromptPlan | None", spec: ModelSpec) -> str:
    """The text this model family should receive (English phrases for English-only models)."""
    if understood is None:
        return ""
    from kadr.prompt import final_prompt

    return final_prompt(understood, spec.family)


def post_stages(plan: GenerationPlan, fitted: FittedPicture | None, camera: CameraPath,
                 request: VideoRequest | None = None,
                 is_cancelled: Callable[[], bool] | None = None, keep_photo: bool = True) -> tuple[PostStage, PostStage]:
    """The post steps of this generation: (on each model pass, on the output stream).

    ``keep_photo`` False leaves colour continuity only on the passes (a remix, or a clip that must arrive
    at a last picture: KeepPhoto would hold the first picture through the whole clip).

    The output stream: loop blend, then smooth motion (interpolating the small frames is cheaper), then
    upscaling, as ``request`` asks or its tier chooses (kadr.post.choices). The upscaler asks
    ``is_cancelled`` before each frame: a 5 s clip takes it minutes on a CPU.
    """
    pass_steps = PostStage([MatchColours()])
    if plan.spec.builtin and keep_photo:
        # kadr-tiny re-draws a photograph as the camera moves (17-22 dB on its last frame); the moved
        # photograph keeps it (31-37 dB, kadr.post.fidelity). Open models keep pictures on their own.
        anchor = None
        if fitted is not None:
            anchor = PhotoAnchor.from_image(fitted.picture, (plan.width, plan.height),
                                            max_zoom=float(camera.poses[:, 2].max()), mode=fitted.mode)
        pass_steps.append(KeepPhoto(camera, anchor))
    output_steps = PostStage()
    if plan.loop_overlap:
        output_steps.append(LoopBlend(plan.num_frames, plan.loop_overlap))
    choice = choose_post(request.tier, request.upscale, request.smooth) if request is not None else PostChoice()
    if choice.output_fps(plan.fps) > plan.fps:
        output_steps.append(Interpolate(plan.fps, choice.output_fps(plan.fps), "flow"))
    if choice.upscale_target is not None:
        unusable = realesrgan_available()  # before the model runs, not after its frames are made
        if unusable is not None:
            raise ModelNotAvailableError(f"upscale {choice.upscale}: {unusable}")
        output_steps.append(Upscale(choice.upscale_target, "realesrgan", should_stop=is_cancelled))
    return pass_steps, output_steps



def run_passes(model: VideoBackend, plan: GenerationPlan, camera: CameraPath, generator: torch.Generator,
               pass_steps: PostStage, *, condition: Image.Image | None = None,
               on_pass_start: Callable[[int], None] = lambda _index: None,
               on_step: Callable[[int, int], None] | None = None,
               is_cancelled: Callable[[], bool] = lambda: False,
               remix_source: np.ndarray | None = None, last_image: Image.Image | None = None,
               extra: dict[str, Any] | None = None) -> Iterator[np.ndarray]:
    """The model's passes of one clip: yields each pass's new frames (uint8 (F, H, W, 3)), pass steps applied.

    A continuation pass starts on the previous pass's last frame (``condition`` for the next, not repeated
    in the output); an extension's first pass (``plan.continues``) starts on ``condition``, the source's last
    frame. ``remix_source`` (the source fitted to the frame, a frame per output frame) is remade pass by pass;
    ``last_image`` is where the last pass ends; ``extra`` goes to every call (a shot's reference picture).
    Cancel is asked after each yielded pass, i.e. once the caller has written it.
    """
    offset = 1 if plan.continues else 0  # where the first new frame sits on the camera path
    made = 0  # frames produced so far (before loop folding)
    for index, n in enumerate(plan.chunk_frames):
        on_pass_start(index)
        first = 1 if index > 0 or plan.continues else 0
        start = made + offset - first  # the pass's first frame on the camera path
        edit: dict[str, Any] = dict(extra or {})  # the edit arguments, only when used (kadr.pipelines.base.VideoBackend)
        if last_image is not None and index == len(plan.chunk_frames) - 1:
            edit["last_image"] = last_image
        if remix_source is not None:
            picked = np.minimum(np.arange(start, start + n), len(remix_source) - 1)  # past the end: hold the last
            edit["video"], edit["strength"] = remix_source[picked], plan.strength
        out = model(
            prompt=plan.prompt, negative_prompt=plan.negative_prompt, image=condition,
            height=plan.height, width=plan.width, num_frames=n, fps=plan.fps,
            num_inference_steps=plan.steps, guidance_scale=plan.guidance_scale,
            generator=generator, camera=camera.slice(start, start + n), callback_on_step_end=on_step, **edit,
        )
        frames = _checked_frames(out.frames, n, plan)
        info = ChunkInfo(start=start, repeated=first,
                         condition=np.asarray(condition) if first and condition is not None else None)
        frames = pass_steps.process(frames, info)
        new = frames[first: first + plan.generated_frames - made]
        made += len(new)
        condition = Image.fromarray(frames[-1])
        yield new
        if is_cancelled():
            raise GenerationCancelled("cancelled")
        if made >= plan.generated_frames:
            break


def _checked_frames(frames: np.ndarray, n: int, plan: GenerationPlan) -> np.ndarray:
    if frames.ndim != 4 or frames.shape[0] < 1 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise RuntimeError(f"{plan.spec.name} returned frames of shape {frames.shape} {frames.dtype}; expected uint8 (F, H, W, 3)")
    if frames.shape[1:3] != (plan.height, plan.width):
        # Some pipelines return the nearest size they support; resize rather than fail the run.
        frames = np.stack([np.asarray(Image.fromarray(f).resize((plan.width, plan.height), Image.BILINEAR)) for f in frames])
    return frames


def _cancel_checker(cancel: CancelSignal | Callable[[], bool] | None) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    if hasattr(cancel, "is_set"):
        return cancel.is_set  # type: ignore[return-value]
    return cancel  # type: ignore[return-value]


@lru_cache(maxsize=1)
def default_engine() -> Engine:
    """The process-wide engine used by :func:`generate` (models stay loaded between calls)."""
    return Engine()


def generate(
    request: VideoRequest,
    output: str | Path | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    cancel: CancelSignal | Callable[[], bool] | None = None,
) -> Result:
    """Make a video: ``generate(VideoRequest(prompt="Закат над морем"), "sunset.mp4")``."""
    return default_engine().generate(request, output, on_progress=on_progress, cancel=cancel)

