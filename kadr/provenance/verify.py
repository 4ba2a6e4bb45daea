"""What ``kadr verify FILE`` and ``POST /v1/verify`` report: the C2PA manifest and the watermark."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from kadr.provenance import studio_id
from kadr.provenance.manifest import ManifestReading, read_manifest
from kadr.provenance.watermark import WatermarkPayload, WatermarkReading, detect_in_file


@dataclass(frozen=True)
class Verification:
    manifest: ManifestReading | None
    watermark: WatermarkReading

    @property
    def confirmed(self) -> bool:
        """Provenance shown: a valid manifest, or the watermark when the manifest is gone."""
        return (self.manifest is not None and self.manifest.valid) or (self.manifest is None and self.watermark.found)

    def to_dict(self) -> dict[str, Any]:
        manifest = None
        if self.manifest is not None:
            m = self.manifest
            manifest = {"valid": m.valid, "signer": m.signer, "generator": m.generator, "trusted": m.trusted,
                        "state": m.state, "digital_source_type": m.digital_source_type, "errors": list(m.errors)}
        return {"manifest": manifest, "watermark": self.watermark.to_dict()}

    def verdict(self, name: str) -> str:
        """One line a person reads."""
        parts = []
        m = self.manifest
        if m is None:
            parts.append("no C2PA manifest")
        elif m.valid:
            gen = m.generator or {}
            made = f"{gen.get('name', '?')} {gen.get('version', '')}".strip()
            model = f", model {gen['model']}" if gen.get("model") else ""
            trust = "trusted" if m.trusted else "signer not in the trusted roots"
            parts.append(f"C2PA manifest valid: made by {made}{model} (AI-generated), signed by {m.signer} ({trust})")
        else:
            parts.append(f"C2PA manifest INVALID (the file was changed after signing: {m.errors[0] if m.errors else m.state})")
        w = self.watermark
        if w.found and w.payload is not None and w.matched:
            # Too faint to decode, but one of this studio's own jobs is there (the candidates are only those).
            parts.append(f"watermark matched to a job of this studio (studio {w.payload.studio:04x}; job {w.payload.job:04x})")
        elif w.found and w.payload is not None:
            # Whose mark: a person checking their own studio's video wants to know it is theirs.
            whose = "this studio" if w.payload.studio == WatermarkPayload.studio_of(studio_id()) else "another studio"
            parts.append(f"watermark found (studio {w.payload.studio:04x}, {whose}; job {w.payload.job:04x})")
        else:
            parts.append("no kadr watermark")
        return f"{name}: " + "; ".join(parts)


def verify_file(path: str | Path, jobs: Sequence[str] | Callable[[], Sequence[str]] = ()) -> Verification:
    """Read the manifest and look for the watermark (even when the manifest was stripped).

    ``jobs``: names of jobs this studio made (the service's job ids, the CLI's file names), or a function listing
    them, called only when the mark is too faint to decode; it is then matched against their payloads."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")

    def candidates() -> list[WatermarkPayload]:
        studio = studio_id()
        return [WatermarkPayload.for_job(studio, job) for job in dict.fromkeys(jobs() if callable(jobs) else jobs)]

    return Verification(manifest=read_manifest(path), watermark=detect_in_file(path, candidates))
