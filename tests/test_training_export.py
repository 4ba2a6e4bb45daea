"""training.export --install: the export replaces the package's weights only when it measures better,
both measured by the same code in the same run (the evaluation itself is replaced by a recorder here:
its real run takes minutes and is `python -m training.evaluate`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import training.evaluate
from training.export import install


def _folder(path: Path, tag: str) -> Path:
    path.mkdir()
    for name in ("config.json", "model.safetensors"):
        (path / name).write_text(tag)
    (path / "eval.json").write_text(json.dumps({"score": 99.0}))  # a stale record, to be ignored
    return path


@pytest.mark.parametrize(("new", "old", "replaced"), [(4.7, 4.6, True), (4.6, 4.7, False), (4.6, 4.6, False)])
def test_install_compares_scores_measured_now(tmp_path: Path, monkeypatch, new: float, old: float, replaced: bool) -> None:
    candidate = _folder(tmp_path / "candidate", "new")
    target = _folder(tmp_path / "target", "old")
    measured: list[Path] = []

    def evaluate_folder(folder: Path, quick: bool = False, sheet: Path | None = None) -> dict:
        measured.append(folder)
        return {"score": new if folder == candidate else old}

    monkeypatch.setattr(training.evaluate, "evaluate_folder", evaluate_folder)
    assert install(candidate, target) is replaced
    assert measured == [candidate, target]
    assert (target / "model.safetensors").read_text() == ("new" if replaced else "old")
    assert json.loads((candidate / "eval.json").read_text())["score"] == new


def test_exported_weights_read_back_as_training_states(tmp_path: Path) -> None:
    """A run can start again from the package's weights when its checkpoints are gone: the export reads
    back as the autoencoder's state and the transformer's EMA, fp16-rounded, with their step counts."""
    import torch

    from kadr.models.autoencoder import AutoencoderConfig, VideoAutoencoder
    from kadr.models.transformer import DiTConfig, VideoDiT
    from training.common import exported_states, load_vae_state, save_checkpoint
    from training.export import export

    torch.manual_seed(0)
    vae_config = AutoencoderConfig(latent_channels=4, channels=(8, 8, 8, 8))
    dit_config = DiTConfig(latent_channels=4, dim=32, depth=1, heads=2)
    vae, dit = VideoAutoencoder(vae_config), VideoDiT(dit_config)
    ema = {k: v + 1.0 if v.is_floating_point() else v for k, v in dit.state_dict().items()}  # differs from the raw weights
    save_checkpoint(tmp_path / "vae.pt", model=vae.state_dict(), config=vae_config.to_dict(), step=40)
    save_checkpoint(tmp_path / "dit.pt", model=dit.state_dict(), ema=ema, config=dit_config.to_dict(), step=123)
    out = export(tmp_path / "vae.pt", tmp_path / "dit.pt", tmp_path / "export")

    states = exported_states(out)
    assert states["dit"]["step"] == 123 and states["vae"]["step"] == 40
    assert DiTConfig.from_dict(states["dit"]["config"]) == dit_config
    for key, value in ema.items():
        assert torch.equal(states["dit"]["ema"][key], value.half().float() if value.is_floating_point() else value)
    assert load_vae_state(out)["model"].keys() == vae.state_dict().keys()
    VideoAutoencoder(AutoencoderConfig.from_dict(load_vae_state(out)["config"])).load_state_dict(states["vae"]["model"])


def test_contact_sheet_rows_are_as_tall_as_their_strips(tmp_path: Path) -> None:
    """Three frames per clip in a labelled strip; a row of 16:9 strips is shorter than a row holding a
    9:16 one (no blank band under the wide strips), and every pixel of a strip comes from its frames."""
    import numpy as np
    from PIL import Image

    from training.evaluate import contact_sheet

    wide = [np.full((144, 256, 3), 200, np.uint8)] * 5
    tall = [np.full((256, 144, 3), 60, np.uint8)] * 5
    contact_sheet([("wide", wide), ("wide", wide), ("tall", tall)], tmp_path / "sheet.png", columns=2)
    sheet = np.asarray(Image.open(tmp_path / "sheet.png"))
    assert sheet.shape[:2] == ((72 + 14 + 128 + 14) * 2 // 3, 2 * 3 * 128 * 2 // 3)
    assert abs(int(sheet[(14 + 36) * 2 // 3, 64].mean()) - 200) <= 2  # inside the first wide strip
    assert abs(int(sheet[(86 + 14 + 64) * 2 // 3, 36].mean()) - 60) <= 2  # inside the tall strip, one row down
