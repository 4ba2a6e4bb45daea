"""`kadr models pull` (kadr.pipelines.hub): folders, file selection and error messages.

The Hugging Face Hub is a remote service that cannot exist inside a test, so ``snapshot_download``
is replaced by a stand-in that writes what a download would write (or fails as the real one does,
with huggingface_hub's own exception types). Everything on kadr's side runs for real: name checks,
the ``.partial`` folder and its rename, resuming, the file patterns (through huggingface_hub's own
filter) and the messages a person reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import huggingface_hub
import httpx2
import pytest
from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError
from huggingface_hub.utils import filter_repo_objects
from tqdm.auto import tqdm

from kadr.errors import InvalidRequestError, ModelNotAvailableError
from kadr.pipelines import registry
from kadr.pipelines.hub import pull, pull_patterns


class FakeHub:
    """Stands in for ``snapshot_download``: records each call and writes (some of) a diffusers folder."""

    def __init__(self, fail: Exception | None = None, with_index: bool = True) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = fail
        self.with_index = with_index

    def __call__(self, repo_id: str, **kwargs: Any) -> str:
        self.calls.append({"repo_id": repo_id, **kwargs})
        folder = Path(kwargs["local_dir"])
        (folder / "transformer").mkdir(parents=True, exist_ok=True)
        (folder / "transformer" / "config.json").write_text("{}")  # a file finished before any failure
        if self.fail is not None:
            raise self.fail
        if self.with_index:
            (folder / "model_index.json").write_text('{"_class_name": "WanPipeline"}')
        return str(folder)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("KADR_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def install(monkeypatch: pytest.MonkeyPatch, hub: FakeHub) -> FakeHub:
    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub)
    return hub


def test_pull_downloads_into_the_models_folder(home, monkeypatch) -> None:
    hub = install(monkeypatch, FakeHub())
    path = pull("wan2.1-t2v-1.3b")

    assert path == home / "models" / "wan2.1-t2v-1.3b"
    assert (path / "model_index.json").is_file()
    assert registry.weights_present(registry.get_spec("wan2.1-t2v-1.3b"))
    assert not (home / "models" / ".wan2.1-t2v-1.3b.partial").exists()
    (call,) = hub.calls
    assert call["repo_id"] == "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"
    assert Path(call["local_dir"]).name == ".wan2.1-t2v-1.3b.partial"  # renamed only once complete
    assert call["allow_patterns"] == pull_patterns(registry.get_spec("wan2.1-t2v-1.3b"))
    assert call["tqdm_class"] is tqdm


def test_pull_without_progress_uses_a_silent_bar(home, monkeypatch) -> None:
    hub = install(monkeypatch, FakeHub())
    pull("cogvideox-2b", progress=False)
    bar_class = hub.calls[0]["tqdm_class"]
    assert issubclass(bar_class, tqdm) and bar_class is not tqdm
    assert bar_class(total=3).disable


def test_an_interrupted_pull_is_not_present_and_resumes(home, monkeypatch) -> None:
    install(monkeypatch, FakeHub(fail=LocalEntryNotFoundError("connection reset")))
    with pytest.raises(ModelNotAvailableError, match="cannot reach the Hugging Face Hub.*pull again"):
        pull("ltx-video-0.9.7-distilled")
    spec = registry.get_spec("ltx-video-0.9.7-distilled")
    assert not registry.weights_present(spec)
    partial = home / "models" / ".ltx-video-0.9.7-distilled.partial"
    assert (partial / "transformer" / "config.json").is_file()  # finished files kept for the retry

    hub = install(monkeypatch, FakeHub())
    path = pull("ltx-video-0.9.7-distilled")
    assert Path(hub.calls[0]["local_dir"]) == partial  # the retry continues in the same folder
    assert registry.weights_present(spec) and path.name == spec.name and not partial.exists()


def test_pulling_a_present_model_updates_it_in_place(home, monkeypatch) -> None:
    install(monkeypatch, FakeHub())
    first = pull("svd-xt")
    hub = install(monkeypatch, FakeHub())
    assert pull("svd-xt") == first
    assert Path(hub.calls[0]["local_dir"]) == first


def test_gated_repository_says_how_to_get_access(home, monkeypatch) -> None:
    response = httpx2.Response(403, request=httpx2.Request("GET", "https://huggingface.co/api/models/x"))
    install(monkeypatch, FakeHub(fail=GatedRepoError("403: gated", response=response)))
    with pytest.raises(ModelNotAvailableError) as caught:
        pull("svd-xt")
    message = str(caught.value)
    assert "https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt" in message
    assert "hf auth login" in message and "HF_TOKEN" in message


def test_a_repository_without_model_index_is_refused(home, monkeypatch) -> None:
    install(monkeypatch, FakeHub(with_index=False))
    with pytest.raises(ModelNotAvailableError, match="not a diffusers repository"):
        pull("cogvideox-5b")
    assert not (home / "models" / "cogvideox-5b").exists()


def test_unknown_and_built_in_names_are_request_errors(home, monkeypatch) -> None:
    hub = install(monkeypatch, FakeHub())
    with pytest.raises(InvalidRequestError, match="model: got 'wan9'; allowed: one of .*wan2.1-t2v-1.3b"):
        pull("wan9")
    builtin = next(spec.name for spec in registry.all_specs() if spec.builtin)
    with pytest.raises(InvalidRequestError, match=f"{builtin} is built in and ships with kadr; nothing to pull"):
        pull(builtin)
    assert hub.calls == []  # nothing was asked of the hub


# Top-level files of real repositories beside their diffusers folders (listed on their hub pages).
LTX_097_FILES = [
    "ltxv-13b-0.9.7-dev.safetensors", "README.md", "model_index.json", "scheduler/scheduler_config.json",
    "text_encoder/config.json", "text_encoder/model-00001-of-00004.safetensors",
    "text_encoder/model.safetensors.index.json", "tokenizer/spiece.model", "tokenizer/tokenizer_config.json",
    "tokenizer/special_tokens_map.json", "transformer/config.json",
    "transformer/diffusion_pytorch_model-00001-of-00006.safetensors", "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors", "media/trailer.gif",
]
SVD_XT_FILES = [
    "svd_xt.safetensors", "svd_xt_image_decoder.safetensors", "model_index.json",
    "unet/config.json", "unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.fp16.safetensors",
    "vae/config.json", "vae/diffusion_pytorch_model.fp16.safetensors", "vae/diffusion_pytorch_model.safetensors",
    "image_encoder/config.json", "image_encoder/model.fp16.safetensors", "image_encoder/model.safetensors",
    "feature_extractor/preprocessor_config.json", "scheduler/scheduler_config.json",
]


def test_patterns_fetch_the_diffusers_folders_and_skip_single_file_checkpoints() -> None:
    ltx = set(filter_repo_objects(LTX_097_FILES, allow_patterns=pull_patterns(registry.get_spec("ltx-video-0.9.7"))))
    assert "ltxv-13b-0.9.7-dev.safetensors" not in ltx and "media/trailer.gif" not in ltx
    assert {"model_index.json", "tokenizer/spiece.model", "text_encoder/model.safetensors.index.json",
            "transformer/diffusion_pytorch_model-00001-of-00006.safetensors"} <= ltx

    svd = set(filter_repo_objects(SVD_XT_FILES, allow_patterns=pull_patterns(registry.get_spec("svd-xt"))))
    weights = {name for name in svd if name.endswith(".safetensors")}
    assert weights == {"unet/diffusion_pytorch_model.fp16.safetensors", "vae/diffusion_pytorch_model.fp16.safetensors",
                       "image_encoder/model.fp16.safetensors"}  # the fp16 variant only, as loaded
    assert {"model_index.json", "feature_extractor/preprocessor_config.json"} <= svd
