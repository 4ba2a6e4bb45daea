"""Making a loaded model run faster per request: step caches, LoRA adapters, attention backends, compilation.

Step caches are diffusers' own hooks (``diffusers.hooks``: First Block Cache, TaylorSeer, MagCache),
applied to a denoiser for one generation and removed after it, so one loaded model serves cached and
uncached requests alike. The same hooks wrap kadr-tiny's DiT (a plain ``nn.Module``): its blocks are
registered with diffusers' ``TransformerBlockRegistry`` and :class:`LoopContextHook` gives the hooks
what a diffusers pipeline gives them (a cache context per call, fresh state per denoising loop).

Which cache a model runs on each tier is its spec's ``cache`` (:class:`CachePolicy` per tier); a
request picks ``auto`` (that policy), ``off`` or a cache by name. diffusers is imported inside
functions only, so specs import this module without importing diffusers.
"""

from __future__ import annotations

import inspect
import re
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Literal, Sequence

from kadr.errors import InvalidRequestError

if TYPE_CHECKING:
    import torch

    from kadr.pipelines.base import ModelSpec

CacheKind = Literal["first-block", "taylorseer", "mag"]
CACHE_KINDS: tuple[str, ...] = ("first-block", "taylorseer", "mag")
# What a request may ask for: the model's policy for the tier, none, or one cache by name.
CACHE_CHOICES: tuple[str, ...] = ("auto", "off", *CACHE_KINDS)

# Module names of denoiser blocks, as diffusers' models and kadr-tiny's DiT name their ModuleLists.
_BLOCK_PATTERN = r"(blocks|transformer_blocks)\.\d+"


@dataclass(frozen=True)
class CachePolicy:
    """One step cache and its settings.

    - ``first-block`` (First Block Cache): every step runs the first block; when its residual changed
      by less than ``threshold`` (relative mean absolute change) since the last full step, the other
      blocks are skipped and their cached residual is added instead.
    - ``taylorseer``: every block runs in full on the first ``warmup_steps`` steps and then once every
      ``interval`` steps; in between, each block's output is extrapolated by a Taylor series of
      ``order`` over the steps.
    - ``mag`` (MagCache): skips blocks while the accumulated magnitude-ratio error stays under
      ``threshold`` (at most ``max_skip_steps`` in a row, never in the first ``retention_ratio`` of
      the steps); ``mag_ratios`` are calibrated per checkpoint.
    """

    kind: CacheKind
    threshold: float = 0.0
    interval: int = 2
    warmup_steps: int = 2
    order: int = 1
    max_skip_steps: int = 3
    retention_ratio: float = 0.2
    mag_ratios: tuple[float, ...] = ()
    source: str = ""  # where the setting comes from (a paper, a README, a bench run)

    def __post_init__(self) -> None:
        if self.kind not in CACHE_KINDS:
            raise ValueError(f"kind: got {self.kind!r}; allowed: one of {', '.join(CACHE_KINDS)}")
        if self.kind in ("first-block", "mag") and not self.threshold > 0:
            raise ValueError(f"threshold: got {self.threshold}; allowed: > 0 for the {self.kind} cache")
        if self.kind == "taylorseer" and (self.interval < 1 or self.warmup_steps < 1 or self.order < 1):
            raise ValueError("interval, warmup_steps and order: allowed >= 1 for the taylorseer cache")
        if self.kind == "mag" and not self.mag_ratios:
            raise ValueError("mag_ratios: the mag cache needs the checkpoint's calibrated ratios")

    @property
    def label(self) -> str:
        """Short form for tables: ``first-block 0.2``, ``taylorseer 1/2``."""
        if self.kind == "taylorseer":
            return f"taylorseer 1/{self.interval}"
        return f"{self.kind} {self.threshold:g}"

    def describe(self) -> dict[str, Any]:
        """The settings that matter for this kind, for metadata and `kadr models --json`."""
        keys = {"first-block": ("threshold",), "taylorseer": ("interval", "warmup_steps", "order"),
                "mag": ("threshold", "max_skip_steps", "retention_ratio")}[self.kind]
        data = asdict(self)
        return {"policy": self.kind, **{k: data[k] for k in keys}}

    def diffusers_config(self, num_inference_steps: int) -> Any:
        """The diffusers hook config for this policy (``num_inference_steps``: what MagCache spreads its ratios over)."""
        import torch
        from diffusers.hooks import FirstBlockCacheConfig, MagCacheConfig, TaylorSeerCacheConfig

        if self.kind == "first-block":
            return FirstBlockCacheConfig(threshold=self.threshold)
        if self.kind == "taylorseer":
            # Whole blocks, in float32: the default (attention modules, bf16 factors) matches none of
            # Wan's or kadr-tiny's module names and loses precision on the CPU.
            return TaylorSeerCacheConfig(
                cache_interval=self.interval, disable_cache_before_step=self.warmup_steps, max_order=self.order,
                taylor_factors_dtype=torch.float32, cache_identifiers=[_BLOCK_PATTERN],
            )
        return MagCacheConfig(threshold=self.threshold, max_skip_steps=self.max_skip_steps,
                              retention_ratio=self.retention_ratio, num_inference_steps=num_inference_steps,
                              mag_ratios=list(self.mag_ratios))


# Settings for a cache a request names explicitly on a model whose spec has no setting of that kind.
# first-block 0.1: near ParaAttention's 0.08 for FLUX (diffusers' ParaAttention guide: about 2x on FLUX
# and HunyuanVideo), slightly bolder; on kadr-tiny's trained DiT at 30 steps bench_acceleration.py
# measures 1.7x fewer block computations at 41.6 dB. taylorseer every 2nd step after 2: TaylorSeer paper
# (arXiv 2503.06923) reports intervals of 2-6 with first-order prediction.
GENERIC_POLICIES: dict[str, CachePolicy] = {
    "first-block": CachePolicy("first-block", threshold=0.1, source="ParaAttention First Block Cache README"),
    "taylorseer": CachePolicy("taylorseer", interval=2, warmup_steps=2, order=1, source="TaylorSeer, arXiv 2503.06923"),
}


def check_cache_choice(value: Any, field_name: str = "cache") -> str:
    """``value`` as a cache choice, or an InvalidRequestError listing the choices."""
    choice = str(value).strip().lower() if value is not None else "auto"
    if choice not in CACHE_CHOICES:
        raise InvalidRequestError(field_name, value, "one of " + ", ".join(CACHE_CHOICES))
    return choice


def resolve_cache(spec: "ModelSpec", tier: str, choice: str | None) -> CachePolicy | None:
    """The cache a generation runs: the tier's policy (``auto``), none (``off``) or a named one.

    A named cache takes the model's own setting when one of its tiers uses that kind, else the
    generic setting; a cache the model cannot run is an InvalidRequestError.
    """
    choice = check_cache_choice(choice)
    per_tier: dict[str, CachePolicy | None] = getattr(spec, "cache", {}) or {}
    if choice == "off":
        return None
    if choice == "auto":
        return per_tier.get(tier)
    supported = cache_kinds(spec)
    if choice not in supported:
        raise InvalidRequestError("cache", choice, f"one of auto, off{''.join(', ' + k for k in supported)} "
                                  f"for {spec.name}")
    own = [p for p in (per_tier.get(tier), *per_tier.values()) if p is not None and p.kind == choice]
    return own[0] if own else GENERIC_POLICIES[choice]


def cache_kinds(spec: "ModelSpec") -> tuple[str, ...]:
    """Caches ``spec`` can run: those with settings in its spec or a generic setting, if it has transformer blocks."""
    if not getattr(spec, "cacheable", True):
        return ()
    own = {p.kind for p in (getattr(spec, "cache", {}) or {}).values() if p is not None}
    return tuple(k for k in CACHE_KINDS if k in own or k in GENERIC_POLICIES)


# ---- applying a cache to a denoiser -----------------------------------------------------------

_COUNTER_HOOK = "kadr_block_counter"
_LOOP_HOOK = "kadr_loop_context"


class BlockCounter:
    """Counts what the denoiser really computes: forward passes, and passes that ran its last block."""

    def __init__(self) -> None:
        self.forward_passes = 0
        self.full_passes = 0

    def as_dict(self) -> dict[str, int]:
        return {"forward_passes": self.forward_passes, "full_passes": self.full_passes}


def _hooks() -> Any:
    from diffusers.hooks import HookRegistry, ModelHook

    return HookRegistry, ModelHook


def _counting_hook(counter: BlockCounter, attribute: str) -> Any:
    _, ModelHook = _hooks()

    class _Count(ModelHook):  # type: ignore[misc, valid-type]
        def pre_forward(self, module: torch.nn.Module, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            setattr(counter, attribute, getattr(counter, attribute) + 1)
            return args, kwargs

    return _Count()


def loop_context_hook(timestep_argument: int = 1) -> Any:
    """A hook for a denoiser whose pipeline sets no diffusers cache context (kadr-tiny's DiT).

    Each call runs in the cache context ``"cond"`` (kadr-tiny batches the guidance branches into one
    call). A call whose timestep is not below the previous one, or whose input has another shape,
    starts a new denoising loop (a new window, or the next generation): the cache state is reset so
    no residual crosses from one loop to the next.
    """
    HookRegistry, ModelHook = _hooks()
    from diffusers.hooks.hooks import CacheContext, _set_cache_context

    class LoopContextHook(ModelHook):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.last: tuple[float, tuple[int, ...]] | None = None
            self.step = 0

        def new_forward(self, module: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
            x, t = args[0], float(args[timestep_argument].reshape(-1)[0])
            if self.last is None or t >= self.last[0] or tuple(x.shape) != self.last[1]:
                HookRegistry.check_if_exists_or_initialize(module).reset_stateful_hooks(recurse=True)
                self.step = 0
            self.last = (t, tuple(x.shape))
            _set_cache_context(module, CacheContext("cond", step_index=self.step))
            self.step += 1
            try:
                return self.fn_ref.original_forward(*args, **kwargs)
            finally:
                _set_cache_context(module, None)

    return LoopContextHook()


def register_block_class(block_class: type, hidden_states_argument: str) -> None:
    """Tell diffusers' cache hooks how a block outside diffusers takes and returns its hidden states.

    First Block Cache looks the input up under the name ``hidden_states``; the preset index points
    that name (and the block's own name for it) at the first positional argument.
    """
    from diffusers.hooks._helpers import TransformerBlockMetadata, TransformerBlockRegistry

    try:
        TransformerBlockRegistry.get(block_class)
        return
    except ValueError:
        pass
    TransformerBlockRegistry.register(block_class, TransformerBlockMetadata(
        return_hidden_states_index=None, return_encoder_hidden_states_index=None,
        hidden_states_argument_name=hidden_states_argument,
        _cached_parameter_indices={"hidden_states": 0, hidden_states_argument: 0},
    ))


def _blocks(module: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for name, m in module.named_modules() if re.fullmatch(_BLOCK_PATTERN, name)]


@dataclass
class AppliedCache:
    """A cache on one denoiser for one generation; :meth:`remove` leaves the module as it was."""

    module: torch.nn.Module
    policy: CachePolicy | None
    counter: BlockCounter = field(default_factory=BlockCounter)
    hook_names: list[tuple[torch.nn.Module, str]] = field(default_factory=list)
    used_enable_cache: bool = False

    def remove(self) -> None:
        HookRegistry, _ = _hooks()
        if self.used_enable_cache:
            self.module.disable_cache()  # type: ignore[operator]
        elif self.policy is not None:
            registry = HookRegistry.check_if_exists_or_initialize(self.module)
            for name in _cache_hook_names(self.policy.kind):
                registry.remove_hook(name, recurse=True)
        for module, name in self.hook_names:
            HookRegistry.check_if_exists_or_initialize(module).remove_hook(name, recurse=False)
        HookRegistry.check_if_exists_or_initialize(self.module).invalidate_child_registries_cache()


def _cache_hook_names(kind: str) -> tuple[str, ...]:
    from diffusers.hooks.first_block_cache import _FBC_BLOCK_HOOK, _FBC_LEADER_BLOCK_HOOK
    from diffusers.hooks.mag_cache import _MAG_CACHE_BLOCK_HOOK, _MAG_CACHE_LEADER_BLOCK_HOOK
    from diffusers.hooks.taylorseer_cache import _TAYLORSEER_CACHE_HOOK

    return {"first-block": (_FBC_LEADER_BLOCK_HOOK, _FBC_BLOCK_HOOK), "taylorseer": (_TAYLORSEER_CACHE_HOOK,),
            "mag": (_MAG_CACHE_LEADER_BLOCK_HOOK, _MAG_CACHE_BLOCK_HOOK)}[kind]


def apply_cache(module: torch.nn.Module, policy: CachePolicy | None, num_inference_steps: int,
                sets_cache_context: bool = True) -> AppliedCache:
    """Put ``policy``'s hooks (and counters) on a denoiser; None puts counters only.

    ``sets_cache_context``: the calling pipeline wraps each call in ``cache_context`` (diffusers'
    pipelines do); otherwise a :func:`loop_context_hook` does it.
    """
    HookRegistry, _ = _hooks()
    blocks = _blocks(module)
    if not blocks:
        raise InvalidRequestError("cache", policy.kind if policy else "off",
                                  f"off for {type(module).__name__}: it has no transformer blocks to cache")
    for block in blocks:
        if not type(block).__module__.startswith("diffusers."):
            # kadr-tiny's Block(x, cond, ...): its hidden states are the first argument.
            first = list(inspect.signature(type(block).forward).parameters)[1]  # after self
            register_block_class(type(block), first)
    applied = AppliedCache(module, policy)
    # Counters first, so the cache hooks registered after them wrap them: they count real computation.
    for target, attribute in ((module, "forward_passes"), (blocks[-1], "full_passes")):
        HookRegistry.check_if_exists_or_initialize(target).register_hook(_counting_hook(applied.counter, attribute),
                                                                         _COUNTER_HOOK)
        applied.hook_names.append((target, _COUNTER_HOOK))
    if policy is None:
        return applied
    config = policy.diffusers_config(num_inference_steps)
    if hasattr(module, "enable_cache"):  # a diffusers model (CacheMixin)
        module.enable_cache(config)  # type: ignore[operator]
        applied.used_enable_cache = True
    else:
        from diffusers.hooks import apply_first_block_cache, apply_mag_cache, apply_taylorseer_cache

        {"first-block": apply_first_block_cache, "taylorseer": apply_taylorseer_cache,
         "mag": apply_mag_cache}[policy.kind](module, config)
    if not sets_cache_context:
        registry = HookRegistry.check_if_exists_or_initialize(module)
        registry.register_hook(loop_context_hook(), _LOOP_HOOK)
        applied.hook_names.append((module, _LOOP_HOOK))
    HookRegistry.check_if_exists_or_initialize(module).invalidate_child_registries_cache()
    return applied


# ---- LoRA references -------------------------------------------------------------------------


@dataclass(frozen=True)
class LoraRef:
    """One LoRA adapter for a generation: a local file or folder, or ``owner/repo[/file.safetensors]`` on the hub."""

    path: str
    scale: float = 1.0

    def __post_init__(self) -> None:
        if not self.path or not str(self.path).strip():
            raise InvalidRequestError("lora", self.path, "a LoRA file, folder or hub id")
        if not -4.0 <= float(self.scale) <= 4.0:
            raise InvalidRequestError("lora", f"{self.path}:{self.scale}", "a scale from -4 to 4")

    @classmethod
    def parse(cls, text: str) -> "LoraRef":
        """``PATH_OR_HUB_ID[:SCALE]``; a Windows drive colon or a colon in a path without a number is part of the path."""
        path, sep, tail = str(text).rpartition(":")
        if sep and path:
            try:
                scale = float(tail)
            except ValueError:
                return cls(str(text), 1.0)
            return cls(path, scale)
        return cls(str(text), 1.0)

    @property
    def is_local(self) -> bool:
        return Path(self.path).expanduser().exists()


# ---- one generation with its accelerations --------------------------------------------------

_LOCKS_GUARD = threading.Lock()
_LOCK_ATTRIBUTE = "_kadr_generation_lock"


def _generation_lock(backend: Any) -> threading.RLock:
    """One lock per loaded backend, kept on it: hooks and adapters belong to one generation at a time."""
    with _LOCKS_GUARD:
        lock = getattr(backend, _LOCK_ATTRIBUTE, None)
        if lock is None:
            lock = threading.RLock()
            object.__setattr__(backend, _LOCK_ATTRIBUTE, lock)  # frozen dataclasses too
        return lock


def denoisers(backend: Any) -> list[torch.nn.Module]:
    """The modules that run once per denoising step: diffusers' transformer(s) or UNet, kadr-tiny's DiT."""
    import torch

    from kadr.pipelines.diffusers_common import DENOISERS

    pipelines = getattr(backend, "pipelines", None)
    if pipelines:
        first = next(iter(pipelines.values()))
        return [m for name, m in first.components.items() if name in DENOISERS and isinstance(m, torch.nn.Module)]
    transformer = getattr(backend, "transformer", None)
    return [transformer] if isinstance(transformer, torch.nn.Module) else []


@contextmanager
def accelerated(backend: Any, *, cache: CachePolicy | None, loras: Sequence[LoraRef] = (),
                num_inference_steps: int) -> Iterator[dict[str, Any]]:
    """Run the body with ``cache`` on the backend's denoisers and ``loras`` loaded; undo both after.

    Yields the report that ends up in the result's metadata; its counts are filled in on exit.
    """
    report: dict[str, Any] = {"cache": {"policy": "off"}}
    with _generation_lock(backend):
        modules = denoisers(backend)
        pipeline_contexts = getattr(backend, "sets_cache_context", False)
        applied: list[AppliedCache] = []
        loaded = False
        try:
            if cache is not None and not modules:
                raise InvalidRequestError("cache", cache.kind, f"off for {backend.spec.name}")
            # Counters alone only where diffusers is loaded anyway: kadr-tiny without a cache never imports it.
            if modules and _has_blocks(modules[0]) and (cache is not None or pipeline_contexts):
                applied = [apply_cache(m, cache, num_inference_steps, pipeline_contexts) for m in modules]
                if hasattr(backend, "modules_required"):  # kadr-tiny on ONNX Runtime: hooks live on the modules
                    backend.modules_required = True
            if loras:
                load = getattr(backend, "load_loras", None)
                if load is None:
                    raise InvalidRequestError("lora", loras[0].path,
                                              f"no LoRA: {backend.spec.name} does not take LoRA adapters")
                report["loras"] = load(loras)
                loaded = True
            yield report
        finally:
            if loaded:
                backend.unload_loras()
            for one in applied:
                one.remove()
            if applied and hasattr(backend, "modules_required"):
                backend.modules_required = False
            if cache is not None:
                report["cache"] = cache.describe()
            if applied:
                counts = [a.counter.as_dict() for a in applied]
                report["cache"].update({k: sum(c[k] for c in counts) for k in counts[0]})


def _has_blocks(module: torch.nn.Module) -> bool:
    return bool(_blocks(module))


# ---- attention backends and compilation -----------------------------------------------------

# diffusers attention backends kadr offers, with the package each needs (None: torch itself).
# The "*_hub" backends download kernels at run time and are never offered.
ATTENTION_BACKENDS: dict[str, str | None] = {
    "native": None, "flex": None, "flash": "flash_attn", "_flash_3": "flash_attn_interface",
    "sage": "sageattention", "xformers": "xformers",
}


def installed_attention_backends() -> tuple[str, ...]:
    """The attention backends this machine can run (``auto`` is always allowed on top of these)."""
    import importlib.util

    import torch

    names = []
    for name, package in ATTENTION_BACKENDS.items():
        if package is None or importlib.util.find_spec(package) is not None:
            if name in ("flash", "_flash_3", "sage") and not torch.cuda.is_available():
                continue  # CUDA kernels only
            names.append(name)
    return tuple(names)


def check_attention_choice(value: str | None) -> str:
    choice = (value or "auto").strip().lower()
    allowed = ("auto", *installed_attention_backends())
    if choice not in allowed:
        raise InvalidRequestError("attention", value, "one of " + ", ".join(allowed) + " (installed here)")
    return choice


def pick_attention(choice: str | None) -> str:
    """``auto``: the fastest installed backend for this device (sage > flash > native)."""
    choice = check_attention_choice(choice)
    if choice != "auto":
        return choice
    installed = installed_attention_backends()
    return next((name for name in ("sage", "flash") if name in installed), "native")


def set_attention(modules: Sequence[torch.nn.Module], choice: str | None) -> str:
    """Set the attention backend on every diffusers denoiser in ``modules``; returns what was set.

    Modules outside diffusers (kadr-tiny's DiT) call torch's scaled_dot_product_attention, which
    picks its kernel itself: reported as ``sdpa``.
    """
    backend = pick_attention(choice)
    settable = [m for m in modules if hasattr(m, "set_attention_backend")]
    if not settable:
        return "sdpa"
    if backend == "native":
        return backend  # diffusers' default: nothing to change
    for module in settable:
        module.set_attention_backend(backend)  # type: ignore[operator]
    return backend


def compile_denoisers(modules: Sequence[torch.nn.Module]) -> str:
    """torch.compile the repeated blocks (diffusers' regional compilation), else each block; returns how."""
    how = "regional"
    for module in modules:
        compile_blocks = getattr(module, "compile_repeated_blocks", None)
        if compile_blocks is not None:
            compile_blocks()
        else:
            for block in _blocks(module):
                block.compile()
            how = "blocks"
    return how
