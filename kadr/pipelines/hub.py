"""`kadr models pull NAME`: the one place kadr reaches the network.

Weights come from the Hugging Face Hub with ``snapshot_download`` into ``models_dir()/NAME`` as a
diffusers folder. A first pull lands in a hidden ``.NAME.partial`` folder and is renamed when
complete, so an interrupted download never looks present; running pull again resumes it. Pulling a
model that is already here fetches only what changed upstream.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from kadr.errors import InvalidRequestError, ModelNotAvailableError
from kadr.pipelines import registry
from kadr.pipelines.base import ModelSpec

if TYPE_CHECKING:
    from kadr.pipelines.acceleration import LoraRef


def pull(name: str, progress: bool = True, token: str | None = None) -> Path:
    """Download ``name``'s weights and return their folder. Raises with a message a person can act on."""
    spec = _pullable_spec(name)
    assert spec.repo_id is not None  # checked by _pullable_spec
    target = registry.models_dir() / spec.name
    # Re-pulling a complete folder updates it in place; otherwise download beside it and rename at the end.
    destination = target if (target / "model_index.json").is_file() else target.with_name(f".{spec.name}.partial")
    destination.parent.mkdir(parents=True, exist_ok=True)
    _download(spec, destination, progress, token)
    if not (destination / "model_index.json").is_file():
        raise ModelNotAvailableError(
            f"{spec.name}: {spec.repo_id} has no model_index.json; it is not a diffusers repository"
        )
    if destination != target:
        if target.exists():
            shutil.rmtree(target)  # an incomplete folder left by hand or by an older kadr
        destination.rename(target)
    for lora in _tier_loras(spec):  # a tier's distillation adapters come with the model
        _download_file(spec, lora.repo_id, lora.filename, target / "loras", token)
    return target


def resolve_lora(ref: "LoraRef", token: str | None = None) -> "LoraRef":
    """A LoRA reference as a local file or folder: a local path as it is; ``owner/repo[/file]`` from the hub.

    A hub LoRA is downloaded once into ``models_dir()/loras/owner/repo`` (safetensors files only)
    and used from there; this is a network call the person asked for by naming a hub id.
    """
    from kadr.pipelines.acceleration import LoraRef

    if ref.is_local:
        return LoraRef(str(Path(ref.path).expanduser()), ref.scale)
    parts = ref.path.strip("/").split("/")
    if len(parts) < 2 or any(not part for part in parts):
        raise InvalidRequestError("lora", ref.path, "an existing LoRA file or folder, or a hub id owner/repo[/file]")
    repo_id, filename = "/".join(parts[:2]), "/".join(parts[2:]) or None
    folder = registry.models_dir() / "loras" / repo_id
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    try:
        snapshot_download(repo_id=repo_id, local_dir=folder, token=token,
                          allow_patterns=[filename] if filename else ["*.safetensors"])
    except RepositoryNotFoundError:
        raise InvalidRequestError("lora", ref.path, "a local LoRA or a hub repository that exists") from None
    except (HfHubHTTPError, OSError) as exc:
        raise ModelNotAvailableError(f"lora {ref.path}: downloading from the hub failed ({exc})") from None
    path = folder / filename if filename else folder
    if not path.exists():
        raise InvalidRequestError("lora", ref.path, f"a file that {repo_id} holds")
    return LoraRef(str(path), ref.scale)


def licences(name: str) -> list[str]:
    """What a person accepts by pulling ``name``: the base weights' licence and each tier adapter's."""
    spec = registry.get_spec(name)
    lines = [f"{spec.repo_id}: {getattr(spec, 'licence', '') or 'see its model card'}"]
    lines += [f"{lora.repo_id}/{lora.filename}: {lora.licence}" for lora in _tier_loras(spec)]
    return lines


def _tier_loras(spec: ModelSpec) -> list:
    seen: dict[str, object] = {}
    for loras in getattr(spec, "tier_loras", {}).values():
        for lora in loras:
            seen.setdefault(f"{lora.repo_id}/{lora.filename}", lora)
    return list(seen.values())


def _download_file(spec: ModelSpec, repo_id: str, filename: str, folder: Path, token: str | None) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(repo_id=repo_id, filename=filename, local_dir=folder, token=token))
    except EntryNotFoundError:
        raise ModelNotAvailableError(f"{spec.name}: {repo_id} has no file {filename}") from None
    except LocalEntryNotFoundError:
        raise ModelNotAvailableError(
            f"{spec.name}: cannot reach the Hugging Face Hub to download {repo_id}/{filename}; pull again"
        ) from None
    except (HfHubHTTPError, OSError) as exc:
        raise ModelNotAvailableError(f"{spec.name}: downloading {repo_id}/{filename} failed ({exc}); pull again") from None


def pull_patterns(spec: ModelSpec) -> list[str] | None:
    """The repository files a pull fetches (None: all of them)."""
    patterns = getattr(spec, "allow_patterns", None)
    return list(patterns) if patterns else None


def _pullable_spec(name: str) -> ModelSpec:
    spec = registry.get_spec(name)  # InvalidRequestError listing the known names
    pullable = [s.name for s in registry.all_specs() if s.repo_id and not s.builtin]
    if spec.builtin:
        raise InvalidRequestError(
            "model", name, f"a model with downloadable weights ({name} is built in and ships with kadr; "
            f"nothing to pull): " + ", ".join(pullable),
        )
    if not spec.repo_id:
        raise InvalidRequestError("model", name, "a model with a hub repository: " + ", ".join(pullable))
    return spec


def _download(spec: ModelSpec, destination: Path, progress: bool, token: str | None) -> None:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )
    from tqdm.auto import tqdm

    class _Quiet(tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    page = f"https://huggingface.co/{spec.repo_id}"
    try:
        snapshot_download(
            repo_id=spec.repo_id,
            local_dir=destination,
            allow_patterns=pull_patterns(spec),
            token=token,
            tqdm_class=tqdm if progress else _Quiet,
        )
    except GatedRepoError:
        raise ModelNotAvailableError(
            f"{spec.name}: {spec.repo_id} is gated; accept its licence at {page}, then log in with "
            f"`hf auth login` (or set HF_TOKEN) and pull again"
        ) from None
    except RepositoryNotFoundError:
        raise ModelNotAvailableError(
            f"{spec.name}: the hub has no repository {spec.repo_id} (or it is private)"
        ) from None
    except LocalEntryNotFoundError:
        raise ModelNotAvailableError(
            f"{spec.name}: cannot reach the Hugging Face Hub to download {spec.repo_id}; check the network "
            f"(or HF_ENDPOINT for a mirror) and pull again: finished files are kept"
        ) from None
    except (HfHubHTTPError, OSError) as exc:  # HTTP errors, dropped connections, a full disk
        raise ModelNotAvailableError(
            f"{spec.name}: downloading {spec.repo_id} failed ({exc}); pull again to resume"
        ) from None
