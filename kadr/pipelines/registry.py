"""The model registry: names and tiers -> specs and loaders.

Specs live beside their backends (``SPECS`` in each module of ``BACKEND_MODULES``); importing those
modules must stay cheap (no diffusers import at module level), so listing models is instant.
Which model serves a tier is configuration (``KADR_FAST_MODEL`` / ``KADR_HIGH_MODEL`` or
``$KADR_HOME/config.json``); without one, the first preferred model whose weights are present wins,
and the built-in model is the fallback.
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from kadr.errors import InvalidRequestError, ModelNotAvailableError
from kadr.pipelines.base import ModelSpec, VideoBackend

# Modules holding each family's SPECS; each imports without torch (the built-in model's spec sits in
# its own light module so that `kadr models` and the service's listings never load torch).
BACKEND_MODULES: tuple[str, ...] = (
    "kadr.pipelines.tiny_spec",
    "kadr.pipelines.wan",
    "kadr.pipelines.ltx",
    "kadr.pipelines.svd",
    "kadr.pipelines.cogvideox",
)
BUILTIN_MODEL = "kadr-tiny"

# Preference order per tier when no configuration names a model and several have weights present.
# Image-to-video-only models come after the text-to-video ones: they serve a tier only for requests with an image.
TIER_PREFERENCE: dict[str, tuple[str, ...]] = {
    "fast": ("ltx-video-0.9.7-distilled", "ltx-video-0.9.5", "wan2.1-t2v-1.3b", "cogvideox-2b", "svd-xt"),
    "high": ("wan2.2-t2v-a14b", "wan2.2-ti2v-5b", "wan2.1-t2v-14b", "ltx-video-0.9.7", "cogvideox-5b",
             "wan2.1-t2v-1.3b", "wan2.2-i2v-a14b", "wan2.1-i2v-14b-720p", "wan2.1-i2v-14b-480p", "cogvideox-5b-i2v",
             "svd-xt"),
}


def kadr_home() -> Path:
    """Where kadr keeps models and configuration: ``$KADR_HOME`` or ``~/.cache/kadr``."""
    return Path(os.environ.get("KADR_HOME", Path.home() / ".cache" / "kadr")).expanduser()


def models_dir() -> Path:
    return kadr_home() / "models"


@lru_cache(maxsize=1)
def all_specs() -> tuple[ModelSpec, ...]:
    specs: list[ModelSpec] = []
    for module_name in BACKEND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # backend not written yet in this checkout
                continue
            raise
        specs.extend(getattr(module, "SPECS", ()))
    return tuple(specs)


def get_spec(name: str) -> ModelSpec:
    for spec in all_specs():
        if spec.name == name:
            return spec
    raise InvalidRequestError("model", name, "one of " + ", ".join(s.name for s in all_specs()))


def weights_path(spec: ModelSpec) -> Path | None:
    """Local folder holding the model's weights, or None if they are not here."""
    if spec.builtin:
        folder = builtin_weights_dir(spec.name)
        return folder if (folder / "model.safetensors").is_file() else None
    folder = models_dir() / spec.name
    return folder if (folder / "model_index.json").is_file() else None


def builtin_weights_dir(name: str) -> Path:
    """Weights of a built-in model ship inside the package: kadr/weights/NAME/."""
    return Path(__file__).resolve().parent.parent / "weights" / name


def weights_present(spec: ModelSpec) -> bool:
    return weights_path(spec) is not None


def _configured_tiers() -> dict[str, str]:
    tiers: dict[str, str] = {}
    config_file = kadr_home() / "config.json"
    if config_file.is_file():
        tiers.update(json.loads(config_file.read_text(encoding="utf-8")).get("tiers", {}))
    for tier in ("fast", "high"):
        env = os.environ.get(f"KADR_{tier.upper()}_MODEL")
        if env:
            tiers[tier] = env
    return tiers


def model_for_tier(tier: str, task: str, features: Sequence[str] = ()) -> ModelSpec:
    """The model serving ``tier`` for ``task``: configured, else a preferred one present, else built-in.

    Among the tier's preferred models present (then the built-in one), the first that can do every one of
    ``features`` (a request's ``VideoRequest.features``: remix, first-last-frame, ...) wins, so such a request
    is not sent to a model that would refuse it; when none can, the choice is as without features.
    """
    configured = _configured_tiers().get(tier)
    if configured:
        return get_spec(configured)
    candidates = [spec for name in TIER_PREFERENCE.get(tier, ())
                  for spec in all_specs() if spec.name == name and task in spec.tasks and weights_present(spec)]
    candidates.append(get_spec(BUILTIN_MODEL))
    able = next((spec for spec in candidates
                 if task in spec.tasks and all(feature in spec.features for feature in features)), None)
    return able or candidates[0]


def load_backend(spec: ModelSpec, device: str | None = None, **kwargs: Any) -> VideoBackend:
    """Import the spec's loader lazily and build the backend (device and memory policy are the loader's)."""
    module_name, _, func_name = spec.loader.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ModelNotAvailableError(
            f"{spec.name} needs the optional dependency '{exc.name}': pip install 'kadr[diffusers]'"
        ) from None
    if not spec.builtin and not weights_present(spec):
        raise ModelNotAvailableError(f"{spec.name}: weights not present; run `kadr models pull {spec.name}`")
    return getattr(module, func_name)(spec, device=device, **kwargs)


@dataclass(frozen=True)
class ModelRow:
    """One line of `kadr models`."""

    name: str
    tasks: str
    tiers: str
    parameters: str
    resolution: str
    fps: int
    longest_clip_s: float
    present: bool
    fast: str = ""  # the fast tier's recipe: steps, adapter, guidance, cache, expected time
    high: str = ""
    fits: str = ""  # whether it runs on this machine, and how

    @classmethod
    def of(cls, spec: ModelSpec, serving: dict[str, str]) -> "ModelRow":
        w, h = spec.resolution("16:9", "fast") or next(iter(next(iter(spec.resolutions.values())).values()))
        tiers = ",".join(t for t, name in serving.items() if name == spec.name) or "-"
        tasks = ",".join("t2v" if t == "text-to-video" else "i2v" for t in spec.tasks)
        from kadr.pipelines.devices import machine_fit

        return cls(spec.name, tasks, tiers, _human_count(spec.parameters), f"{w}x{h}", spec.native_fps,
                   round(spec.longest_clip_s, 1), weights_present(spec), tier_recipe(spec, "fast"),
                   tier_recipe(spec, "high"), machine_fit(spec))


def tier_recipe(spec: ModelSpec, tier: str) -> str:
    """``4 steps, lightx2v LoRA, cfg off, no cache, ~14 s H200`` : what the tier runs, in a few words."""
    parts = [f"{spec.steps[tier]} steps"]
    loras = getattr(spec, "tier_loras", {}).get(tier, ())
    parts += [f"{lora.repo_id.split('/')[0]} LoRA" for lora in loras]
    guidance = spec.guidance_for(tier)
    parts.append("cfg off" if guidance <= 1.0 else f"cfg {guidance:g}")
    policy = spec.cache.get(tier)
    parts.append(policy.label if policy is not None else "no cache")
    expected = getattr(spec, "expected_time", {}).get(tier)
    if expected:
        parts.append(expected.split(" (")[0])  # the figure and device; the source is in the README
    return ", ".join(parts)


def model_rows() -> list[ModelRow]:
    serving = {tier: model_for_tier(tier, "text-to-video").name for tier in ("fast", "high")}
    return [ModelRow.of(spec, serving) for spec in all_specs()]


def _human_count(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)
