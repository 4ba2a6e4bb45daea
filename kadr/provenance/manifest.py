"""C2PA manifests: sign what kadr writes (MP4, GIF, PNG posters) and read a file's manifest back.

The manifest says the file was made by a trained model (action ``c2pa.created``, digital source type
``trainedAlgorithmicMedia``), which generator made it (kadr, its version, the model and its licence),
and, for image-to-video, carries the input picture as an ingredient. Signed with ES256 by the
studio's certificate (kadr.provenance.keys); offline, so no time-stamp authority.
"""

from __future__ import annotations

import io
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kadr.provenance.keys import SigningCredentials, signing_credentials, trust_anchors

log = logging.getLogger("kadr.provenance")

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
MIME_TYPES = {".mp4": "video/mp4", ".gif": "image/gif", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
              ".webp": "image/webp", ".mov": "video/quicktime"}
SIGNABLE = (".mp4", ".gif", ".png")  # what kadr writes that C2PA can carry (WebM has no C2PA binding)

# Licences of the model families kadr runs (the weights' licence, as their model cards state it).
MODEL_LICENCES = {
    "kadr-tiny": "Apache-2.0",
    "wan": "Apache-2.0",
    "ltx": "LTX-Video Open Weights License",
    "svd": "Stability AI Community License",
    "cogvideox": "Apache-2.0 (CogVideoX-2B) / CogVideoX License (5B)",
}


@dataclass(frozen=True)
class GenerationRecord:
    """What a manifest says about how a file was made."""

    model: str
    model_family: str
    task: str  # "text-to-video", "image-to-video", ...
    input_image: bytes | None = None  # PNG bytes of the picture image-to-video started from
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the job id in the service

    @property
    def licence(self) -> str:
        return MODEL_LICENCES.get(self.model_family, "see the model card")


@dataclass(frozen=True)
class ManifestReading:
    """A file's C2PA manifest as read back: whether it validates, who signed it, what made it."""

    valid: bool
    trusted: bool  # signed by a certificate chaining to a trusted root (the local one by default)
    state: str  # c2pa's validation state: Trusted, Valid or Invalid
    signer: str | None
    generator: dict[str, Any] | None
    digital_source_type: str | None
    ingredients: int
    errors: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "trusted": self.trusted, "state": self.state, "signer": self.signer,
                "generator": self.generator, "digital_source_type": self.digital_source_type,
                "ingredients": self.ingredients, "errors": list(self.errors)}


def manifest_definition(record: GenerationRecord, title: str) -> dict[str, Any]:
    """The manifest JSON c2pa's Builder takes."""
    from kadr import __version__

    generator = {"name": "kadr", "version": __version__}
    parameters = {"model": record.model, "model_family": record.model_family, "model_licence": record.licence,
                  "task": record.task, **record.extra}
    return {
        "claim_generator_info": [generator],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{
                "action": "c2pa.created",
                "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                "softwareAgent": {"name": f"kadr {__version__} / {record.model}", "version": __version__},
                "parameters": parameters,
            }]}},
        ],
    }


def sign_file(src: Path, dst: Path, record: GenerationRecord, *, title: str | None = None,
              credentials: SigningCredentials | None = None) -> None:
    """Write ``src`` with a signed manifest embedded to ``dst`` (may be the same path's final name)."""
    import c2pa

    mime = MIME_TYPES.get(dst.suffix.lower()) or MIME_TYPES.get(src.suffix.lower())
    if mime is None or dst.suffix.lower() not in SIGNABLE:
        raise ValueError(f"{dst.name}: C2PA signing supports {', '.join(SIGNABLE)}")
    creds = credentials or signing_credentials()
    assert creds is not None
    info = c2pa.C2paSignerInfo(alg=b"es256", sign_cert=creds.chain.read_bytes(), private_key=creds.key.read_bytes(), ta_url=None)
    builder = c2pa.Builder(manifest_definition(record, title or dst.name))
    try:
        with c2pa.Signer.from_info(info) as signer:
            if record.input_image is not None:
                builder.add_ingredient({"title": "input picture", "relationship": "inputTo"}, "image/png",
                                       io.BytesIO(record.input_image))
            tmp = dst.with_name(f".{dst.name}.c2pa.part")
            try:
                with open(src, "rb") as source, open(tmp, "w+b") as out:
                    builder.sign(signer, mime, source, out)
                os.replace(tmp, dst)
            finally:
                tmp.unlink(missing_ok=True)
    finally:
        builder.close()


def read_manifest(path: str | Path) -> ManifestReading | None:
    """The file's manifest checked against the trusted roots; None when the file carries none."""
    import c2pa

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    settings: dict[str, Any] = {"verify": {"verify_trust": True}}
    anchors = trust_anchors()
    if anchors is not None:
        settings["trust"] = {"trust_anchors": anchors.read_text()}
    context = c2pa.Context(c2pa.Settings.from_dict(settings))
    mime = MIME_TYPES.get(path.suffix.lower())
    try:
        with open(path, "rb") as stream:
            reader = c2pa.Reader(mime, stream, context=context) if mime else c2pa.Reader(stream, context=context)
            with reader:
                store = json.loads(reader.json())
    except c2pa.C2paError as exc:
        if "ManifestNotFound" in type(exc).__name__ or "no JUMBF" in str(exc) or "not found" in str(exc).lower():
            return None
        raise ValueError(f"{path}: cannot read its C2PA data ({exc})") from exc
    finally:
        context.close()
    return _reading(store)


def _reading(store: dict[str, Any]) -> ManifestReading:
    active = store.get("manifests", {}).get(store.get("active_manifest") or "", {})
    state = str(store.get("validation_state") or "Invalid")
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    failures = tuple(f"{f.get('code')}: {f.get('explanation', '')}" for f in results.get("failure", []))
    signature = active.get("signature_info") or {}
    signer = signature.get("issuer") or signature.get("common_name")
    if signature.get("common_name") and signature.get("issuer"):
        signer = f"{signature['common_name']} ({signature['issuer']})"
    generator = None
    source_type = None
    for assertion in active.get("assertions", []):
        if assertion.get("label", "").startswith("c2pa.actions"):
            for action in assertion.get("data", {}).get("actions", []):
                if action.get("action") == "c2pa.created":
                    source_type = action.get("digitalSourceType")
                    params = action.get("parameters") or {}
                    info = (active.get("claim_generator_info") or [{}])[0]
                    generator = {"name": info.get("name"), "version": info.get("version"),
                                 **{k: params[k] for k in ("model", "model_licence", "task") if k in params}}
    # An untrusted signer (another studio's chain) is still a valid signature; tampering is not.
    untrusted_only = all("signingCredential.untrusted" in f for f in failures) if failures else False
    valid = state in ("Valid", "Trusted") or (bool(failures) and untrusted_only)
    return ManifestReading(valid=valid, trusted=state == "Trusted", state=state, signer=signer, generator=generator,
                           digital_source_type=source_type, ingredients=len(active.get("ingredients", [])),
                           errors=failures)
