"""Training sets for kadr-tiny built from the procedural world (training.world).

The diffusion model trains on cached latents: each clip is rendered at its keyframes only (1/key_fps
apart, the camera following kadr.camera.CameraPath), encoded once by the trained autoencoder, and
stored with its camera poses, the sentence embeddings of two Russian and two English captions, and its
exact scene labels. Shards are written as they fill, so an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kadr.camera import CameraPath

# Generation grids (width, height) per aspect: the fast tier's and the high tier's.
GRIDS: dict[str, dict[str, tuple[int, int]]] = {
    "fast": {"16:9": (256, 160), "9:16": (160, 256), "1:1": (192, 192)},
    "high": {"16:9": (384, 224), "9:16": (224, 384), "1:1": (288, 288)},
}
ASPECT_P: dict[str, float] = {"16:9": 0.5, "9:16": 0.25, "1:1": 0.25}
CAPTIONS_PER_LANGUAGE = 2


def clip_plan(index: int, seed: int, high_fraction: float) -> tuple[str, str, int]:
    """(tier, aspect, scene seed) of clip ``index``: a pure function of the index, so shards are reproducible."""
    rng = np.random.default_rng([seed, index])
    tier = "high" if rng.random() < high_fraction else "fast"
    aspects = list(ASPECT_P)
    aspect = aspects[int(rng.choice(len(aspects), p=np.array(list(ASPECT_P.values()))))]
    return tier, aspect, int(rng.integers(0, 2**31 - 1))


def render_one(args: tuple[int, int, float, int, float]) -> dict[str, Any]:
    """Render clip ``index``'s keyframes and captions (runs in a worker process)."""
    from training.world import caption, render_clip, sample_scene

    index, seed, high_fraction, num_keyframes, key_fps = args
    tier, aspect, scene_seed = clip_plan(index, seed, high_fraction)
    rng = np.random.default_rng(scene_seed)
    scene = sample_scene(rng, aspect=aspect)
    w, h = GRIDS[tier][aspect]
    frames = render_clip(scene, num_keyframes, w, h, key_fps)  # (K, H, W, 3) uint8
    poses = CameraPath.from_motion(scene.camera, num_keyframes, key_fps, scene.camera_speed).poses  # (K, 3)
    texts = [caption(scene, rng, lang) for lang in ("ru", "en") for _ in range(CAPTIONS_PER_LANGUAGE)]
    return {"index": index, "tier": tier, "aspect": aspect, "frames": frames, "poses": poses, "texts": texts,
            "scene": asdict(scene)}


def render_shard(path: Path, jobs: list[tuple[int, int, float, int, float]], workers: int) -> list[dict[str, Any]]:
    """Rendered keyframes, poses, captions and labels of the clips in ``jobs`` (cached in ``path``)."""
    if path.is_file():
        return torch.load(path, weights_only=False)
    if workers > 1:
        with get_context("fork").Pool(workers) as pool:
            clips = pool.map(render_one, jobs, chunksize=4)
    else:
        clips = [render_one(job) for job in jobs]
    tmp = path.with_suffix(".tmp")
    torch.save(clips, tmp)
    tmp.replace(path)
    return clips


@torch.no_grad()
def build_shards(
    out_dir: Path,
    vae: Any,
    text_encoder: Any,
    count: int,
    seed: int = 0,
    shard_size: int = 200,
    high_fraction: float = 0.2,
    num_keyframes: int = 16,
    key_fps: float = 3.0,
    workers: int = 2,
) -> list[Path]:
    """Render, encode and store ``count`` clips as shard files ``shard_XXXX.pt`` in ``out_dir``.

    Rendered frames are kept in ``raw_XXXX.pt`` first; with ``vae=None`` only those are made (so the
    rendering can run while the autoencoder trains).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for first in range(0, count, shard_size):
        number = first // shard_size
        path = out_dir / f"shard_{number:04d}.pt"
        paths.append(path)
        if path.is_file():
            continue
        jobs = [(i, seed, high_fraction, num_keyframes, key_fps) for i in range(first, min(count, first + shard_size))]
        raw_path = out_dir / f"raw_{number:04d}.pt"
        clips = render_shard(raw_path, jobs, workers)
        if vae is None:
            print(f"rendered {raw_path.name}: {len(clips)} clips", flush=True)
            continue
        records = []
        for clip in clips:
            x = torch.from_numpy(clip["frames"]).permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (K, 3, H, W)
            z = torch.cat([vae.encode(x[i:i + 8]) for i in range(0, len(x), 8)])  # (K, C, h, w)
            records.append({"index": clip["index"], "tier": clip["tier"], "aspect": clip["aspect"],
                            "latents": z.half(), "poses": torch.from_numpy(clip["poses"]), "texts": clip["texts"],
                            "scene": clip["scene"]})
        all_texts = [t for r in records for t in r["texts"]]
        emb = torch.from_numpy(text_encoder.embed_batch(all_texts)).half()  # (N*4, 512)
        per = 2 * CAPTIONS_PER_LANGUAGE
        for i, r in enumerate(records):
            r["text_emb"] = emb[i * per:(i + 1) * per]  # (4, 512)
        tmp = path.with_suffix(".tmp")
        torch.save(records, tmp)
        tmp.replace(path)
        print(f"wrote {path.name}: {len(records)} clips", flush=True)
    (out_dir / "manifest.json").write_text(json.dumps({"count": count, "seed": seed, "shards": [p.name for p in paths]}))
    return paths


def load_shards(paths: list[Path]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in paths:
        records.extend(torch.load(path, weights_only=False))
    return records
