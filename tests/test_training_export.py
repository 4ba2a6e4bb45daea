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
