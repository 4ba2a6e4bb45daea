"""Export trained kadr-tiny components as the package's weights: config.json + model.safetensors.

    python -m training.export                           # -> checkpoints/export/kadr-tiny/
    python -m training.export --install                 # also copy into kadr/weights/kadr-tiny/ if it measures better

The transformer's EMA weights are exported. Floating tensors are stored as float16 (loaded back as
float32), which keeps the whole folder well under 40 MB. ``--install`` runs the evaluation
(training.evaluate) on the export and on the weights already in the package, and copies the export
into the package only when its score is higher.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

from kadr.models.autoencoder import AutoencoderConfig
from kadr.models.transformer import DiTConfig
from kadr.pipelines.tiny import WEIGHTS_DIR, KadrTinyConfig
from training.common import CHECKPOINTS, load_vae_state

MAX_BYTES = 40 * 1024 * 1024


def export(vae_path: Path, dit_path: Path, out: Path, use_ema: bool = True) -> Path:
    vae_state = load_vae_state(vae_path)
    dit_state = torch.load(dit_path, map_location="cpu", weights_only=False)
    config = KadrTinyConfig(vae=AutoencoderConfig.from_dict(vae_state["config"]), dit=DiTConfig.from_dict(dit_state["config"]))
    tensors: dict[str, torch.Tensor] = {}
    for prefix, state in (("vae.", vae_state["model"]), ("dit.", dit_state["ema" if use_ema else "model"])):
        for key, value in state.items():
            value = value.detach().cpu()
            tensors[prefix + key] = (value.half() if value.is_floating_point() else value).contiguous()
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt", "model": "kadr-tiny"})
    info = config.to_dict() | {"training": {"vae_step": int(vae_state.get("step", 0)), "dit_step": int(dit_state.get("step", 0))}}
    (out / "config.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    if size > MAX_BYTES:
        raise SystemExit(f"export is {size / 2**20:.1f} MB, over the 40 MB budget")
    print(f"exported {out} ({size / 2**20:.2f} MB, {sum(t.numel() for t in tensors.values())} values)")
    return out


def install(candidate: Path, target: Path = WEIGHTS_DIR) -> bool:
    """Copy ``candidate`` into the package if its evaluation score beats the installed weights' score.

    Both are evaluated here, by the same evaluation and pipeline code: a score recorded by an older
    version of either is not comparable.
    """
    from training.evaluate import evaluate_folder

    report = evaluate_folder(candidate)
    (candidate / "eval.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    installed = (target / "model.safetensors").is_file() and (target / "config.json").is_file()
    old_score = evaluate_folder(target)["score"] if installed else float("-inf")
    print(f"score: new {report['score']:.4f} vs installed {old_score:.4f} (both measured now)")
    if report["score"] <= old_score:
        return False
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "model.safetensors", "eval.json"):
        shutil.copy2(candidate / name, target / name)
    print(f"installed into {target}")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vae", type=Path, default=CHECKPOINTS / "vae" / "final.pt",
                        help="autoencoder checkpoint, or a weights folder such as kadr/weights/kadr-tiny")
    parser.add_argument("--dit", type=Path, default=CHECKPOINTS / "dit" / "last.pt")
    parser.add_argument("--out", type=Path, default=CHECKPOINTS / "export" / "kadr-tiny")
    parser.add_argument("--raw", action="store_true", help="export the raw weights instead of the EMA")
    parser.add_argument("--install", action="store_true")
    args = parser.parse_args()
    out = export(args.vae, args.dit, args.out, use_ema=not args.raw)
    if args.install:
        install(out)


if __name__ == "__main__":
    main()
