"""Small helpers shared by the kadr-tiny training recipes: seeding, logging, resumable checkpoints."""

from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = ROOT / "checkpoints"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def set_threads(threads: int) -> None:
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)  # denormal floats make CPU kernels many times slower late in training
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))


class JsonlLog:
    """Appends one JSON object per line (losses, timings) and echoes a short line to stdout."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, **record: Any) -> None:
        record = {"time": round(time.time(), 1), **record}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        print(" ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()), flush=True)


def save_checkpoint(path: Path, **state: Any) -> None:
    """Write atomically: a crash mid-write never leaves a broken last checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)


def exported_states(folder: Path) -> dict[str, dict[str, Any]]:
    """Exported weights (``config.json`` + ``model.safetensors``, as ``training.export`` writes them) as
    training states: ``{"vae": {config, model, step}, "dit": {config, ema, step}}``, float32.

    This is how a run starts again from the weights in the package (the EMA only: the raw weights and
    the optimiser state are not shipped) when its checkpoints are gone.
    """
    from kadr.pipelines.tiny import build_components, load_state, read_config

    config = read_config(folder)
    vae, dit = build_components(config)
    load_state(vae, dit, folder / "model.safetensors")  # the package's own reader of the weights file
    steps = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("training", {})
    return {"vae": {"config": config.vae.to_dict(), "model": vae.state_dict(), "step": int(steps.get("vae_step", 0))},
            "dit": {"config": config.dit.to_dict(), "ema": dit.state_dict(), "step": int(steps.get("dit_step", 0))}}


def load_vae_state(path: Path) -> dict[str, Any]:
    """The autoencoder's state from a training checkpoint (``final.pt``) or an exported weights folder."""
    if path.is_dir():
        return exported_states(path)["vae"]
    return torch.load(path, map_location="cpu", weights_only=False)


def rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def schedule_progress(step: int, steps: int, elapsed_s: float, minutes: float) -> float:
    """How far a run is through its budget, 0 to 1: steps or wall time, whichever runs out first, so a
    run stopped by --minutes still ends on an annealed learning rate."""
    return min(1.0, max(step / max(steps, 1), elapsed_s / max(minutes * 60.0, 1e-9)))


def cosine_lr(base: float, step: int, warmup: int, progress: float, floor: float = 0.1) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to ``floor * base`` at progress 1."""
    return base * min(1.0, (step + 1) / warmup) * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress)))
