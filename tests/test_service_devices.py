"""`kadr serve --devices`: one device per worker, checked at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import KadrServer, run_cli
from kadr.service.settings import parse_devices
from kadr.service.workers import WorkerConfig


def test_devices_are_parsed_and_checked_against_the_gpus_present() -> None:
    assert parse_devices("auto", cuda_count=4) == ("cuda:0", "cuda:1", "cuda:2", "cuda:3")
    assert parse_devices("auto", cuda_count=0) == ("cpu",)
    assert parse_devices("cuda:0, cuda:1", cuda_count=2) == ("cuda:0", "cuda:1")
    assert parse_devices(None, cuda_count=2) == ()
    with pytest.raises(ValueError, match=r"'cuda:2'; this machine has cuda:0 to cuda:1"):
        parse_devices("cuda:0,cuda:2", cuda_count=2)
    with pytest.raises(ValueError, match="no CUDA GPU visible"):
        parse_devices("cuda", cuda_count=0)
    with pytest.raises(ValueError, match=r"'gpu0'; allowed: auto, or a list of cpu, cuda, cuda:N"):
        parse_devices("gpu0", cuda_count=1)


def test_each_worker_slot_gets_its_own_device_in_turn() -> None:
    config = WorkerConfig(threads=1, nice=0, device=None, output_dir="/tmp", devices=("cuda:0", "cuda:1"))
    assert [config.for_slot(i).device for i in range(4)] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    assert config.for_slot(1).devices == ()
    plain = WorkerConfig(threads=1, nice=0, device="cpu", output_dir="/tmp")
    assert plain.for_slot(3) is plain


def test_a_device_that_is_not_there_stops_the_start_with_its_name(tmp_path: Path) -> None:
    proc = run_cli("serve", "--port", "0", "--data", str(tmp_path), "--devices", "cuda:1")
    assert proc.returncode == 2
    assert "kadr: error: devices: got 'cuda:1'; this machine has no CUDA GPU visible to torch" in proc.stderr


def test_workers_pinned_to_the_listed_devices_come_up(tmp_path: Path) -> None:
    server = KadrServer(tmp_path / "serve", workers=2, extra_args=["--devices", "cpu,cpu"]).start(timeout=120)
    try:
        log = server.log()
        assert "worker 0 on cpu" in log and "worker 1 on cpu" in log
    finally:
        server.stop()
