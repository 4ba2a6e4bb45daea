"""What every diffusers-backed model shares: its spec, the adapter from kadr's call to a diffusers
pipeline call, and the loader that builds pipelines from a pulled folder on a device with a memory policy.

Family modules (wan.py, ltx.py, svd.py, cogvideox.py) hold only their specs and what differs in how
their pipelines are called. diffusers and transformers are imported inside functions, never at module
level, so `kadr models` lists every model without importing them.

The camera: none of these models takes a camera path as input; they hear the camera only through the
prompt text, which ``kadr.prompt.final_prompt`` writes upstream. Backends accept ``camera`` to keep
the VideoBackend contract and ignore it.

Going on from existing material (issue 18): the engine passes, only when a request uses them,
``last_image`` (first and last frame), ``video`` + ``strength`` (remix: the source frames of this pass)
and ``reference_image`` (a character's picture). A spec's ``features`` say which a model takes; a
call with one it does not take is refused naming the field, never run without it. Remix runs on a
video-to-video pipeline (``DiffusersSpec.feature_pipelines``) built over the same modules.
"""

from __future__ import annotations

import inspect
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence, TypeVar

import numpy as np
from PIL import Image

from kadr.camera import CameraPath
from kadr.errors import InvalidRequestError, ModelNotAvailableError
from kadr.pipelines import registry
from kadr.pipelines.acceleration import LoraRef, compile_denoisers, denoisers, set_attention
from kadr.pipelines.base import IMAGE_TO_VIDEO, TEXT_TO_VIDEO, ModelSpec, PipelineOutput, StepCallback, to_uint8_frames
from kadr.request import DEFAULT_REMIX_STRENGTH
from kadr.pipelines.devices import (
    MemoryPolicy,
    MemoryProfile,
    choose_device,
    choose_dtype,
    choose_memory_policy,
    free_gpu_bytes,
)

if TYPE_CHECKING:
    import torch  # imported where used: listing models must not import torch
    from diffusers import DiffusionPipeline

# Files of a diffusers folder: model_index.json at the top and everything the components need inside
# their subfolders. Weights at the top level are the original single-file checkpoints (LTX-Video, SVD
# ship them beside the diffusers folders) and are left on the hub.
DIFFUSERS_LAYOUT: tuple[str, ...] = ("model_index.json", "*/*.json", "*/*.safetensors", "*/*.model", "*/*.txt")
DIFFUSERS_LAYOUT_FP16: tuple[str, ...] = (
    "model_index.json", "*/*.json", "*/*.fp16.safetensors", "*/*.model", "*/*.txt"
)

# Components that run once per denoising step: offloaded block by block, everything else layer by layer.
DENOISERS = frozenset({"transformer", "transformer_2", "unet"})


@dataclass(frozen=True)
class HubLora:
    """A LoRA file on the hub that a tier always loads (a step-distillation adapter).

    `kadr models pull` fetches it beside the base weights, into ``loras/`` of the model's folder.
    """

    repo_id: str
    filename: str
    licence: str  # as the repository's model card states it
    scale: float = 1.0

    def local_path(self, model_name: str) -> Path:
        return registry.models_dir() / model_name / "loras" / Path(self.filename).name


@dataclass(frozen=True)
class DiffusersSpec(ModelSpec):
    """A ModelSpec plus what the loader and the adapter need to run it through diffusers."""

    pipelines: dict[str, str] = field(default_factory=dict)  # task -> diffusers pipeline class name
    cuda_dtype: str = "bfloat16"  # torch dtype name on CUDA; the CPU always gets float32
    variant: str | None = None  # weight file variant pulled and loaded ("fp16" for SVD)
    memory: MemoryProfile | None = None
    call_defaults: dict[str, Any] = field(default_factory=dict)  # extra pipeline keyword arguments
    allow_patterns: tuple[str, ...] = DIFFUSERS_LAYOUT  # files `kadr models pull` fetches
    licence: str = ""  # of the base weights, as the model card states it
    takes_lora: bool = True  # Wan, LTX-Video and CogVideoX pipelines have diffusers' LoRA loaders
    tier_loras: dict[str, tuple[HubLora, ...]] = field(default_factory=dict)  # per tier: adapters it always loads
    # Per tier: a published time for one clip, with its device and source (shown by `kadr models`).
    expected_time: dict[str, str] = field(default_factory=dict)
    # Feature -> diffusers pipeline class run for it over the task pipelines' modules ("remix": video-to-video).
    feature_pipelines: dict[str, str] = field(default_factory=dict)

    def tier_lora_refs(self, tier: str) -> tuple[LoraRef, ...]:
        """The tier's own adapters as local files (pulled with the model)."""
        return tuple(LoraRef(str(lora.local_path(self.name)), lora.scale) for lora in self.tier_loras.get(tier, ()))


@dataclass(frozen=True)
class Call:
    """kadr's arguments for one chunk, as the engine passed them (camera excluded: see module docstring)."""

    prompt: str
    negative_prompt: str | None
    image: Image.Image | None
    height: int
    width: int
    num_frames: int
    fps: int
    num_inference_steps: int
    guidance_scale: float
    last_image: Image.Image | None = None  # first and last frame: the pass ends on this picture
    video: np.ndarray | None = None  # remix: (F, H, W, 3) uint8 source frames of this pass
    strength: float | None = None  # remix: how far the source is re-noised (0 keep, 1 all new)
    reference_image: Image.Image | None = None  # a character's picture

    @property
    def task(self) -> str:
        return IMAGE_TO_VIDEO if self.image is not None else TEXT_TO_VIDEO

    @property
    def route(self) -> str:
        """The pipeline this call runs on: its task's, or the remix (video-to-video) one."""
        return "remix" if self.video is not None else self.task

    @property
    def features(self) -> tuple[tuple[str, str], ...]:
        """(feature, request field) pairs the call uses."""
        used = [("first-last-frame", "last_image") if self.last_image is not None else None,
                ("remix", "video") if self.video is not None else None,
                ("reference", "reference_image") if self.reference_image is not None else None]
        return tuple(pair for pair in used if pair is not None)

    def source_frames(self) -> list[Image.Image]:
        """The remix source as the PIL frames diffusers' video-to-video pipelines take, one per output frame."""
        assert self.video is not None
        frames = np.asarray(self.video)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"video: expected uint8 (F, H, W, 3) source frames, got {frames.shape} {frames.dtype}")
        if len(frames) != self.num_frames:
            raise ValueError(f"video: {len(frames)} source frames for a pass of {self.num_frames}; "
                             "the engine passes each pass its own slice of the source")
        return [Image.fromarray(frame) for frame in frames]


class DiffusersBackend:
    """A VideoBackend over one or two diffusers pipelines sharing their components (one per task).

    Subclasses adapt :meth:`pipeline_arguments` where their family names or needs things differently.
    """

    sets_cache_context = True  # diffusers' pipelines wrap every denoiser call in ``cache_context``

    def __init__(
        self,
        spec: DiffusersSpec,
        pipelines: Mapping[str, "DiffusionPipeline"],
        device: torch.device | str = "cpu",
        policy: MemoryPolicy | None = None,
    ) -> None:
        missing = [task for task in spec.tasks if task not in pipelines]
        if missing:
            raise ValueError(f"{spec.name}: no pipeline given for {', '.join(missing)}")
        import torch

        self.spec = spec
        self.device = torch.device(device)
        self.policy = policy or MemoryPolicy()
        self.pipelines = dict(pipelines)
        self.pipelines.update(feature_pipelines(spec, self.pipelines))
        # Task whose pipeline holds the model-offload hooks: the loader put them on the first one.
        self._active: str | None = next(iter(self.pipelines)) if self.policy.offload == "model_offload" else None
        self._lock = threading.Lock()  # a diffusers pipeline runs one call at a time
        self._adapters: list[str] = []
        self.load_report: dict[str, Any] = {"attention": "native", "compile": None}
        for pipe in self.pipelines.values():
            pipe.set_progress_bar_config(disable=True)  # the engine reports progress

    def __call__(
        self,
        *,
        prompt: str,
        negative_prompt: str | None,
        image: Image.Image | None,
        height: int,
        width: int,
        num_frames: int,
        fps: int,
        num_inference_steps: int,
        guidance_scale: float,
        generator: torch.Generator,
        camera: CameraPath | None,
        callback_on_step_end: StepCallback | None,
        last_image: Image.Image | None = None,
        video: np.ndarray | None = None,
        strength: float | None = None,
        reference_image: Image.Image | None = None,
    ) -> PipelineOutput:
        del camera  # reaches these models through the prompt text only (see module docstring)
        call = Call(prompt, negative_prompt, image, height, width, num_frames, fps, num_inference_steps, guidance_scale,
                    last_image=last_image, video=video, strength=strength, reference_image=reference_image)
        self.check_features(call)
        call = self.with_reference(call)
        with self._lock:
            # 1. The pipeline for the task (or the remix).
            pipe = self.pipeline(call.route)
            # 2. kadr's arguments in the family's names, then what every diffusers pipeline takes alike.
            kwargs = self.pipeline_arguments(pipe, call)
            kwargs.update(
                generator=generator,
                output_type="np",
                callback_on_step_end=_step_adapter(callback_on_step_end, num_inference_steps),
            )
            # 3. Denoise and decode; GenerationCancelled raised by the callback propagates from here.
            result = pipe(**kwargs)
        # 4. (1, F, H, W, 3) floats in [0, 1] -> (F, H, W, 3) uint8.
        frames = to_uint8_frames(result.frames)
        return PipelineOutput(frames, {"pipeline": type(pipe).__name__, "memory": self.policy.offload})

    # ---- LoRA adapters: loaded for one generation, unloaded after it; the base weights stay --------

    def load_loras(self, loras: Sequence[LoraRef]) -> list[dict[str, Any]]:
        """Load ``loras`` (local files or folders) into the shared denoiser and activate them at their scales.

        A file that is not a LoRA, or one whose weights fit none of this model's layers, is an
        InvalidRequestError naming it; adapters loaded before it are unloaded again.
        """
        pipe = next(iter(self.pipelines.values()))
        if not hasattr(pipe, "load_lora_weights"):
            raise InvalidRequestError("lora", loras[0].path, f"no LoRA: {self.spec.name} takes no LoRA adapters")
        report = []
        with self._lock:
            for index, lora in enumerate(loras):
                name = f"kadr_lora_{index}"
                path = Path(lora.path).expanduser()
                if not path.exists():
                    self._unload_locked()
                    raise InvalidRequestError("lora", lora.path, "an existing LoRA file or folder")
                source, weight = (path.parent, path.name) if path.is_file() else (path, None)
                try:
                    pipe.load_lora_weights(str(source), weight_name=weight, adapter_name=name, local_files_only=True)
                except (ValueError, RuntimeError, KeyError, OSError, TypeError) as exc:
                    self._unload_locked()
                    raise InvalidRequestError(
                        "lora", lora.path, f"a LoRA made for {self.spec.name} ({self.spec.family}): {_first_line(exc)}"
                    ) from None
                if not any(name in names for names in pipe.get_list_adapters().values()):
                    self._unload_locked()
                    raise InvalidRequestError(
                        "lora", lora.path, f"a LoRA made for {self.spec.name}: none of its weights fit this model's layers"
                    )
                self._adapters.append(name)
                report.append({"path": lora.path, "scale": lora.scale})
            pipe.set_adapters(self._adapters, [lora.scale for lora in loras])
        return report

    def unload_loras(self) -> None:
        """Remove every adapter: the denoiser computes exactly what it did before they were loaded."""
        with self._lock:
            self._unload_locked()

    def _unload_locked(self) -> None:
        if self._adapters:
            next(iter(self.pipelines.values())).unload_lora_weights()
            self._adapters = []

    def pipeline(self, task: str) -> "DiffusionPipeline":
        """The pipeline serving ``task`` (or "remix"); under model offload, moves the offload hooks onto it first."""
        if task not in self.spec.tasks and task not in self.spec.feature_pipelines:
            if task == IMAGE_TO_VIDEO:
                raise InvalidRequestError("image", "<image>", f"none: {self.spec.name} does text-to-video only")
            raise InvalidRequestError("image", None, f"an image: {self.spec.name} makes video from an image only")
        pipe = self.pipelines[task]
        if self.policy.offload == "model_offload" and self._active != task:
            # Pipelines of one model share modules; offload hooks belong to one pipeline at a time.
            pipe.enable_model_cpu_offload(device=self.device)
        self._active = task
        return pipe

    def check_features(self, call: Call) -> None:
        """Refuse a call using a feature this model does not take (never run it without): the field named."""
        for feature, name in call.features:
            if feature not in self.spec.features:
                able = ", ".join(s.name for s in registry.all_specs() if feature in s.features) or "none here"
                raise InvalidRequestError(name, f"given to {self.spec.name}", f"none: models that take it: {able}")
        if call.video is not None and call.image is not None:
            raise InvalidRequestError("image", "<image>", f"none when remixing a video with {self.spec.name}")

    def with_reference(self, call: Call) -> Call:
        """The call with the character's picture where this model takes it (``spec.reference_mode``).

        first-frame (the one way here, kadr.edit.reference): a pass without an image starts on the
        reference (the model's image-to-video); a continuation pass already starts on a frame that came
        from it (a request with both an image and a reference is refused before it gets here).
        """
        if call.reference_image is None:
            return call
        if self.spec.reference_mode != "first-frame":
            raise InvalidRequestError("reference_image", f"given to {self.spec.name}", "none: it takes no reference")
        if call.image is None:
            return replace(call, image=call.reference_image, reference_image=None)
        return replace(call, reference_image=None)  # a continuation: its first frame descends from the reference

    def pipeline_arguments(self, pipe: "DiffusionPipeline", call: Call) -> dict[str, Any]:
        """kadr's call as keyword arguments of ``pipe``; the model's fixed extras are applied last."""
        kwargs: dict[str, Any] = {
            "prompt": call.prompt,
            "negative_prompt": call.negative_prompt,
            "height": call.height,
            "width": call.width,
            "num_frames": call.num_frames,
            "num_inference_steps": call.num_inference_steps,
            "guidance_scale": call.guidance_scale,
        }
        if call.image is not None:
            kwargs["image"] = call.image
        if call.last_image is not None:
            kwargs["last_image"] = call.last_image  # diffusers' name for the last frame (Wan)
        if call.video is not None:
            # Video-to-video: the frame count is the source's; the strength how far it is re-noised.
            del kwargs["num_frames"]
            kwargs["video"] = call.source_frames()
            kwargs["strength"] = remix_strength(call)
        kwargs.update(self.spec.call_defaults)
        return kwargs


def remix_strength(call: Call) -> float:
    """The call's remix strength, at least one step's worth: the pipelines run int(steps * strength) steps,
    and none would return the source's latents decoded with no new prompt in them."""
    strength = call.strength if call.strength is not None else DEFAULT_REMIX_STRENGTH
    return max(strength, (1.0 + 1e-6) / max(1, call.num_inference_steps))  # 1e-6: int(49 * (1 / 49)) is 0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _step_adapter(callback: StepCallback | None, fallback_total: int) -> Callable[..., dict[str, Any]] | None:
    """diffusers' ``callback_on_step_end(pipe, i, t, kwargs) -> kwargs`` around kadr's ``callback(i, total)``."""
    if callback is None:
        return None

    def on_step_end(pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        # The pipeline's own count: custom timestep lists (LTX distilled) differ from num_inference_steps.
        total = int(getattr(pipe, "_num_timesteps", 0) or fallback_total)
        callback(int(step), total)
        return callback_kwargs

    return on_step_end


# ---- loading ----------------------------------------------------------------------------------

B = TypeVar("B", bound=DiffusersBackend)


def load_diffusers_backend(
    backend_class: type[B],
    spec: ModelSpec,
    device: str | torch.device | None = None,
    *,
    folder: str | Path | None = None,
    memory: MemoryPolicy | str | None = None,
    attention: str | None = None,
    compile: bool = False,
) -> B:
    """Build ``backend_class`` for ``spec`` from its pulled folder, never touching the network.

    ``device``: None picks CUDA when present, else the CPU. ``memory``: a MemoryPolicy or an offload
    mode name to force one; None chooses from the free GPU memory. ``folder`` overrides where the
    weights are (default: ``registry.models_dir()/spec.name``). ``attention``: a diffusers attention
    backend installed here (None or ``auto``: the fastest one); ``compile``: torch.compile the
    denoiser's repeated blocks (the first generation pays the compilation: the warm-up).
    """
    if not isinstance(spec, DiffusersSpec):
        raise TypeError(f"{spec.name} is not a diffusers model spec")
    path = Path(folder) if folder is not None else registry.weights_path(spec)
    if path is None or not (path / "model_index.json").is_file():
        raise ModelNotAvailableError(f"{spec.name}: weights not present; run `kadr models pull {spec.name}`")
    import torch

    target = choose_device(device)
    dtype = choose_dtype(target, getattr(torch, spec.cuda_dtype))
    if isinstance(memory, str):
        policy = MemoryPolicy(memory, memory != "none", "chosen by the caller")  # type: ignore[arg-type]
    else:
        policy = memory or choose_memory_policy(spec, free_gpu_bytes(target), bytes_per_param=dtype.itemsize)
    pipelines = build_pipelines(spec, path, dtype)
    place_pipelines(pipelines, policy, target)
    backend = backend_class(spec, pipelines, device=target, policy=policy)
    modules = denoisers(backend)
    backend.load_report = {"attention": set_attention(modules, attention),
                           "compile": compile_denoisers(modules) if compile else None}
    return backend


def build_pipelines(spec: DiffusersSpec, folder: Path, dtype: torch.dtype) -> dict[str, "DiffusionPipeline"]:
    """Load the folder's pipeline (local files only) and arrange it per task."""
    import diffusers

    base = diffusers.DiffusionPipeline.from_pretrained(
        folder, local_files_only=True, variant=spec.variant, **_dtype_kwarg(dtype)
    )
    return pipelines_per_task(spec, base, source=str(folder))


def pipelines_per_task(
    spec: DiffusersSpec, base: "DiffusionPipeline", source: str = "the folder"
) -> dict[str, "DiffusionPipeline"]:
    """One pipeline per task; a second one shares ``base``'s modules (no second copy in memory)."""
    import diffusers

    classes = {task: getattr(diffusers, name) for task, name in spec.pipelines.items()}
    if not any(isinstance(base, cls) for cls in classes.values()):
        expected = ", ".join(sorted(set(spec.pipelines.values())))
        raise ModelNotAvailableError(
            f"{spec.name}: {source} holds a {type(base).__name__}, expected {expected}; "
            f"pull it again with `kadr models pull {spec.name}`"
        )
    return {task: base if isinstance(base, classes[task]) else share_components(classes[task], base)
            for task in spec.tasks}


def feature_pipelines(spec: DiffusersSpec, pipelines: Mapping[str, "DiffusionPipeline"]) -> dict[str, "DiffusionPipeline"]:
    """The spec's feature pipelines (remix: video-to-video) not in ``pipelines``, over the same modules."""
    if not spec.feature_pipelines:
        return {}
    import diffusers

    base = pipelines.get(TEXT_TO_VIDEO) or next(iter(pipelines.values()))
    return {feature: share_components(getattr(diffusers, name), base)
            for feature, name in spec.feature_pipelines.items() if feature not in pipelines}


def share_components(cls: type["DiffusionPipeline"], base: "DiffusionPipeline") -> "DiffusionPipeline":
    """A ``cls`` pipeline over ``base``'s modules and matching config (e.g. Wan 2.2's ``expand_timesteps``).

    Not ``from_pipe``: that casts every module with ``.to(dtype)``, which would also cast the
    modules diffusers keeps in float32 inside a bf16 model (Wan's norms and time embedder).
    """
    accepted = inspect.signature(cls.__init__).parameters
    kwargs = {name: module for name, module in base.components.items() if name in accepted}
    kwargs.update({key: value for key, value in base.config.items() if key in accepted and key not in kwargs})
    return cls(**kwargs)


def place_pipelines(pipelines: Mapping[str, "DiffusionPipeline"], policy: MemoryPolicy, device: torch.device) -> None:
    """Put the (shared) modules where ``policy`` says; the loader's job, never the call's."""
    first = next(iter(pipelines.values()))
    if policy.offload == "none":
        first.to(device)
    elif policy.offload == "model_offload":
        first.enable_model_cpu_offload(device=device)  # later task switches move the hooks (DiffusersBackend.pipeline)
    else:
        apply_group_offload(first, device)
    if policy.vae_tiling:
        vae = getattr(first, "vae", None)
        if vae is not None and hasattr(vae, "use_tiling"):  # SVD's temporal decoder has no tiling
            vae.enable_tiling()


def apply_group_offload(pipe: "DiffusionPipeline", device: torch.device) -> None:
    """Stream weights from CPU memory: denoisers block by block, other modules layer by layer."""
    import torch
    from diffusers.hooks import apply_group_offloading

    use_stream = device.type == "cuda"  # overlap transfers with compute where there are CUDA streams
    for name, module in pipe.components.items():
        if not isinstance(module, torch.nn.Module):
            continue
        if name in DENOISERS:
            options: dict[str, Any] = {"offload_type": "block_level", "num_blocks_per_group": 1}
        else:
            options = {"offload_type": "leaf_level"}
        apply = getattr(module, "enable_group_offload", None)
        if apply is not None:
            apply(onload_device=device, offload_device=torch.device("cpu"), use_stream=use_stream, **options)
        else:
            apply_group_offloading(module, onload_device=device, offload_device=torch.device("cpu"),
                                   use_stream=use_stream, **options)


def _dtype_kwarg(dtype: torch.dtype) -> dict[str, torch.dtype]:
    """Newer diffusers take ``dtype`` and deprecate ``torch_dtype``; use whichever this version takes."""
    try:
        from diffusers.utils.deprecation_utils import _resolve_dtype  # noqa: F401  (present since the rename)
    except ImportError:
        return {"torch_dtype": dtype}
    return {"dtype": dtype}
