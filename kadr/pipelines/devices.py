"""Device, dtype and GPU-memory policy for the model backends.

Decisions here are pure functions of what the machine reports (device kind, bf16 support, free GPU
memory) so they are unit-tested without a GPU; applying a policy to a diffusers pipeline lives in
``kadr.pipelines.diffusers_common``. Importing this module does not import diffusers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from kadr.pipelines.base import ModelSpec

if TYPE_CHECKING:
    import torch  # imported where used: the policies below are importable without it

GiB = 1024**3
OffloadMode = Literal["none", "model_offload", "group_offload"]
OFFLOAD_MODES: tuple[str, ...] = ("none", "model_offload", "group_offload")

# Room left for the CUDA context, the allocator's fragmentation and small tensors (prompt embeddings, latents).
CUDA_HEADROOM_BYTES = 1 * GiB


@dataclass(frozen=True)
class MemoryProfile:
    """Rough GPU memory needs of one model at its native size and longest clip, beyond its weights.

    ``largest_component`` is the parameter count of the biggest single module (the denoiser, or the
    text encoder when that is bigger): model offload keeps one module on the GPU at a time, so it is
    what must fit. ``working_bytes`` is the denoiser's activation peak; ``vae_decode_bytes`` the extra
    peak of decoding the whole clip untiled. Figures are estimates from published VRAM numbers and
    err on the high side; they only pick between policies.
    """

    largest_component: int
    working_bytes: int
    vae_decode_bytes: int
    source: str = "estimate: bf16 bytes of the parameters plus an activation allowance; not measured here"


@dataclass(frozen=True)
class MemoryPolicy:
    """How a pipeline sits in GPU memory. ``reason`` says why, for logs and `kadr models`."""

    offload: OffloadMode = "none"
    vae_tiling: bool = False
    reason: str = ""

    def __post_init__(self) -> None:
        if self.offload not in OFFLOAD_MODES:
            raise ValueError(f"offload: got {self.offload!r}; allowed: one of {', '.join(OFFLOAD_MODES)}")


def rough_profile(spec: ModelSpec) -> MemoryProfile:
    """A conservative profile for a spec that brings none: the biggest module is most of the model."""
    return MemoryProfile(
        largest_component=int(spec.parameters * 0.8),
        working_bytes=max(2 * GiB, spec.parameters // 2),
        vae_decode_bytes=4 * GiB,
    )


def choose_memory_policy(
    spec: ModelSpec,
    free_bytes: int | None,
    profile: MemoryProfile | None = None,
    bytes_per_param: int = 2,
) -> MemoryPolicy:
    """Pick the lightest policy that fits in ``free_bytes`` of GPU memory (None: not a CUDA device).

    In order: everything resident; resident with a tiled VAE decode; one module at a time on the GPU
    (model offload, tiled VAE); blocks streamed from CPU memory (group offload, tiled VAE), which
    runs in any GPU at the price of speed.
    """
    if free_bytes is None:
        return MemoryPolicy("none", False, "not a CUDA device: weights stay in main memory")
    if free_bytes < 0:
        raise ValueError(f"free_bytes: got {free_bytes}; allowed: a byte count >= 0, or None off CUDA")
    profile = profile or getattr(spec, "memory", None) or rough_profile(spec)
    weights = spec.parameters * bytes_per_param
    resident = weights + profile.working_bytes + CUDA_HEADROOM_BYTES
    free_gib = free_bytes / GiB
    if free_bytes >= resident + profile.vae_decode_bytes:
        return MemoryPolicy("none", False, f"{free_gib:.1f} GiB free: whole model resident")
    if free_bytes >= resident:
        return MemoryPolicy("none", True, f"{free_gib:.1f} GiB free: model resident, VAE decodes in tiles")
    if free_bytes >= profile.largest_component * bytes_per_param + profile.working_bytes + CUDA_HEADROOM_BYTES:
        return MemoryPolicy("model_offload", True, f"{free_gib:.1f} GiB free: one module on the GPU at a time")
    return MemoryPolicy("group_offload", True, f"{free_gib:.1f} GiB free: blocks streamed from main memory")


def available_memory_bytes() -> int | None:
    """Main memory the OS reports as available (Linux MemAvailable), None where it cannot say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def nvidia_gpu_present() -> bool:
    """Whether the NVIDIA driver reports any GPU, asked without importing torch."""
    gpus = Path("/proc/driver/nvidia/gpus")
    return gpus.is_dir() and any(gpus.iterdir())


def machine_fit(spec: ModelSpec, device: torch.device | None = None) -> str:
    """Whether ``spec`` runs on this machine and how, in a few words (for `kadr models`).

    On CUDA: the memory policy the free GPU memory picks. On the CPU: whether its float32 weights
    fit in the available main memory (the CPU runs the models in float32, see choose_dtype).
    """
    if spec.builtin:
        return "yes"
    # `kadr models` must not import torch (half a second or more) on a machine with no NVIDIA GPU at all.
    if device is None and not nvidia_gpu_present():
        free = None
    else:
        free = free_gpu_bytes(device or choose_device(None))
    if free is not None:
        policy = choose_memory_policy(spec, free)
        return {"none": "yes" if not policy.vae_tiling else "yes, tiled VAE", "model_offload": "with offload",
                "group_offload": "streamed (slow)"}[policy.offload]
    needed = spec.parameters * 4
    available = available_memory_bytes()
    if available is None:
        return f"cpu: needs {needed / GiB:.0f} GiB"
    verdict = "cpu, very slow" if needed <= available else "no"
    return f"{verdict} ({needed / GiB:.0f} of {available / GiB:.0f} GiB)"


def choose_device(requested: str | torch.device | None = None) -> torch.device:
    """The requested device, else the first CUDA GPU, else the CPU."""
    import torch

    if requested is not None:
        device = torch.device(requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device: got {requested!r}; allowed: 'cpu' (no CUDA GPU is visible to torch here)")
        return device
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def choose_dtype(
    device: torch.device, cuda_dtype: torch.dtype | None = None, bf16_supported: bool | None = None
) -> torch.dtype:
    """Half precision on CUDA (``cuda_dtype``, default bf16; bf16 falls back to fp16 on GPUs without
    it), fp32 elsewhere.

    CPU kernels for half precision are slow or missing for 3D convolutions, so the CPU gets fp32.
    """
    import torch

    if cuda_dtype is None:
        cuda_dtype = torch.bfloat16
    if device.type != "cuda":
        return torch.float32
    if cuda_dtype == torch.bfloat16:
        supported = torch.cuda.is_bf16_supported() if bf16_supported is None else bf16_supported
        return torch.bfloat16 if supported else torch.float16
    return cuda_dtype


def free_gpu_bytes(device: torch.device) -> int | None:
    """Free memory on a CUDA device as the driver reports it; None for other devices."""
    if device.type != "cuda":
        return None
    import torch

    free, _total = torch.cuda.mem_get_info(device)
    return int(free)
