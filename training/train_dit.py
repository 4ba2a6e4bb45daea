"""Train the kadr-tiny diffusion transformer (flow matching) on cached latents of the procedural world.

    python -m training.train_dit                  # builds checkpoints/dit/data/ once, then trains (seed 0)
    python -m training.train_dit --resume         # continue from checkpoints/dit/last.pt
    python -m training.train_dit --vae kadr/weights/kadr-tiny --init-from kadr/weights/kadr-tiny
                                                  # continue from the shipped weights (no checkpoints)

Needs the autoencoder from training.train_vae (checkpoints/vae/final.pt), or the shipped one. Logs losses to
checkpoints/dit/log.jsonl, saves every --save-every seconds (model, EMA, optimiser, step, RNG states),
stops after --steps or --minutes. Each batch: one generation grid (tier x aspect), a window of 8-16
latent frames at a random offset, camera-warped noise, t from a shifted logit-normal, and 0, 1 or 2
known leading frames (text-to-video, image-to-video, continuation).

A share of the batches (--image-fraction) are single keyframes instead, as in the joint image-video
training of larger video models: text-to-video starts with keyframe 0 alone (the pipeline's first
keyframe pass), and a batch of single frames from ~100 different clips teaches that frame's layout
(the setting) far more per step than ~8 windows of 12 correlated frames.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from kadr.models.autoencoder import AutoencoderConfig, VideoAutoencoder, count_parameters
from kadr.models.flow import add_noise
from kadr.models.geometry import camera_features
from kadr.models.noise import warped_noise
from kadr.models.transformer import DiTConfig, VideoDiT, position_scale
from training.common import CHECKPOINTS, JsonlLog, cosine_lr, schedule_progress, load_checkpoint, load_vae_state, exported_states, restore_rng, rng_state, save_checkpoint, seed_everything, set_threads

WINDOWS = (8, 12, 16)
WINDOW_P = (0.3, 0.3, 0.4)
KNOWN_P = (0.35, 0.45, 0.2)  # 0, 1, 2 known leading frames


class LatentSet:
    """Cached clips grouped by generation grid, as stacked tensors."""

    def __init__(self, records: list[dict[str, Any]], key_fps: float) -> None:
        self.key_fps = key_fps
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in records:
            groups.setdefault((r["tier"], r["aspect"]), []).append(r)
        self.keys = sorted(groups)
        self.latents = {k: torch.stack([r["latents"] for r in groups[k]]) for k in self.keys}  # (N, K, C, h, w) fp16
        self.poses = {k: torch.stack([r["poses"] for r in groups[k]]).numpy() for k in self.keys}  # (N, K, 3)
        self.text = {k: torch.stack([r["text_emb"] for r in groups[k]]) for k in self.keys}  # (N, 4, 512) fp16
        counts = np.array([len(groups[k]) for k in self.keys], np.float64)
        self.group_p = counts / counts.sum()

    def __len__(self) -> int:
        return sum(len(v) for v in self.latents.values())

    def batch(self, rng: np.random.Generator, token_budget: int, generator: torch.Generator,
              window: int | None = None) -> dict[str, Any]:
        key = self.keys[int(rng.choice(len(self.keys), p=self.group_p))]
        lat = self.latents[key]
        n, k, c, h, w = lat.shape
        window = window or int(rng.choice(WINDOWS, p=WINDOW_P))
        window = min(window, k)
        tokens_per_frame = (h // 2) * (w // 2)
        b = max(2, token_budget // (window * tokens_per_frame))
        idx = rng.integers(0, n, size=b)
        starts = rng.integers(0, k - window + 1, size=b)
        x0 = torch.stack([lat[i, s:s + window] for i, s in zip(idx, starts)]).float()  # (B, L, C, h, w)
        poses = np.stack([self.poses[key][i, s:s + window] for i, s in zip(idx, starts)])  # (B, L, 3)
        if window == 1:
            # Like the pipeline's first keyframe pass: pose 0, the velocity of the clip's whole path there.
            whole = [camera_features(self.poses[key][i], self.key_fps)[s] for i, s in zip(idx, starts)]  # B x (6,)
            cam = torch.from_numpy(np.stack(whole))[:, None].clone()  # (B, 1, 6)
            cam[:, :, :3] = 0.0
        else:
            cam = torch.from_numpy(np.stack([camera_features(p, self.key_fps) for p in poses]))  # (B, L, 6)
        noise = torch.stack([warped_noise(torch.from_numpy(p), c, h, w, generator=generator) for p in poses])  # (B, L, C, h, w)
        caps = rng.integers(0, self.text[key].shape[1], size=b)
        text = self.text[key][idx, caps].float()  # (B, 512)
        return {"x0": x0, "noise": noise, "camera": cam, "text": text,
                "pos_scale": position_scale(h * 16, w * 16), "key": key}


def flow_loss(model: VideoDiT, batch: dict[str, Any], rng: np.random.Generator, generator: torch.Generator,
              shift: float, text_drop: float, known_count: np.ndarray | None = None,
              t: torch.Tensor | None = None) -> torch.Tensor:
    x0, noise = batch["x0"], batch["noise"]
    b, f = x0.shape[:2]
    if t is None:
        u = torch.sigmoid(torch.randn(b, generator=generator))
        t = shift * u / (1.0 + (shift - 1.0) * u)  # (B,)
    if known_count is None:
        known_count = rng.choice(3, size=b, p=KNOWN_P) if f > 1 else np.zeros(b, np.int64)
    known_mask = (torch.arange(f)[None, :] < torch.from_numpy(np.asarray(known_count))[:, None]).float()  # (B, F)
    m = known_mask[:, :, None, None, None]
    x_t = add_noise(x0, noise, t)
    x_t = torch.where(m > 0, x0, x_t)
    text = batch["text"]
    drop = torch.from_numpy(rng.random(b) < text_drop)[:, None]  # (B, 1)
    text = torch.where(drop, model.null_text[None].expand_as(text), text)
    v = model(x_t, t, text, batch["camera"], x0, known_mask, batch["pos_scale"])
    err = (v - (noise - x0)).pow(2).mean(dim=(2, 3, 4))  # (B, F)
    free = 1.0 - known_mask
    return (err * free).sum() / free.sum().clamp_min(1.0)


def load_vae(path: Path) -> VideoAutoencoder:
    state = load_vae_state(path)
    vae = VideoAutoencoder(AutoencoderConfig.from_dict(state["config"]))
    vae.load_state_dict(state["model"])
    return vae.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=CHECKPOINTS / "dit")
    parser.add_argument("--vae", type=Path, default=CHECKPOINTS / "vae" / "final.pt",
                        help="autoencoder checkpoint, or a weights folder such as kadr/weights/kadr-tiny")
    parser.add_argument("--clips", type=int, default=3000)
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--token-budget", type=int, default=4096, help="tokens per batch")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--ema", type=float, default=0.998)
    parser.add_argument("--shift", type=float, default=3.0)
    parser.add_argument("--text-drop", type=float, default=0.1)
    parser.add_argument("--image-fraction", type=float, default=0.4, help="share of batches that are single keyframes")
    parser.add_argument("--dim", type=int, default=DiTConfig.dim)
    parser.add_argument("--depth", type=int, default=DiTConfig.depth)
    parser.add_argument("--heads", type=int, default=DiTConfig.heads)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--save-every", type=float, default=180.0)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="start from an exported weights folder (its EMA transformer, a new optimiser) "
                             "when there is no checkpoint to resume")
    parser.add_argument("--build-only", action="store_true", help="build the latent cache and stop")
    parser.add_argument("--render-only", action="store_true", help="render the clips (no autoencoder needed) and stop")
    parser.add_argument("--workers", type=int, default=2, help="rendering processes")
    args = parser.parse_args()

    set_threads(args.threads)
    seed_everything(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    log = JsonlLog(args.out / "log.jsonl")
    from training.datasets import build_shards, load_shards

    t0 = time.time()
    if args.render_only:
        build_shards(args.out / "data", None, None, args.clips, seed=args.seed, key_fps=AutoencoderConfig().key_fps, workers=args.workers)
        return
    vae = load_vae(args.vae)
    from kadr.models.text import TextEncoder

    shards = build_shards(args.out / "data", vae, TextEncoder(), args.clips, seed=args.seed, key_fps=vae.config.key_fps,
                          workers=args.workers)
    print(f"latent cache ready ({time.time() - t0:.0f} s)", flush=True)
    if args.build_only:
        return
    records = load_shards(shards)
    held_out = [r for r in records if r["index"] % 50 == 0]
    train_set = LatentSet([r for r in records if r["index"] % 50 != 0], vae.config.key_fps)
    val_set = LatentSet(held_out, vae.config.key_fps)
    print(f"train clips {len(train_set)}, held-out {len(val_set)}", flush=True)

    config = DiTConfig(latent_channels=vae.config.latent_channels, dim=args.dim, depth=args.depth, heads=args.heads)
    model = VideoDiT(config)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.99))
    step = 0
    data_rng = np.random.default_rng(args.seed + 7)
    gen = torch.Generator().manual_seed(args.seed + 11)
    warmup_start = 0  # the step the learning-rate warm-up counts from: where the optimiser began
    state = load_checkpoint(args.out / "last.pt") if args.resume else None
    if state is not None:
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["optimizer"])
        step = state["step"]
        warmup_start = state.get("warmup_start", 0)
        data_rng.bit_generator.state = state["data_rng"]
        gen.set_state(state["gen"])
        restore_rng(state["rng"])
        print(f"resumed at step {step}", flush=True)
    elif args.init_from is not None:
        exported = exported_states(args.init_from)["dit"]
        if DiTConfig.from_dict(exported["config"]) != config:
            raise SystemExit(f"{args.init_from}: its transformer config differs from --dim/--depth/--heads")
        model.load_state_dict(exported["ema"])
        ema.load_state_dict(exported["ema"])
        step = warmup_start = exported["step"]
        # Fresh data and noise streams: the seeded ones would replay the batches of the run's first steps.
        data_rng = np.random.default_rng([args.seed + 7, step])
        gen.manual_seed(args.seed + 11 + step)
        print(f"initialised from {args.init_from} at step {step} (EMA weights, new optimiser)", flush=True)
    print(f"transformer parameters: {count_parameters(model)}", flush=True)

    def checkpoint(name: str = "last.pt") -> None:
        save_checkpoint(args.out / name, model=model.state_dict(), ema=ema.state_dict(), optimizer=opt.state_dict(),
                        step=step, warmup_start=warmup_start, data_rng=data_rng.bit_generator.state, gen=gen.get_state(), rng=rng_state(),
                        config=config.to_dict(), vae_config=vae.config.to_dict(), args=vars(args) | {"out": str(args.out), "vae": str(args.vae)})

    @torch.no_grad()
    def validate(windows: tuple[int, ...], seed: int) -> float:
        """EMA flow loss on held-out clips, one fixed batch per window size, t spread over (0.1, 0.9)."""
        vrng = np.random.default_rng(seed)
        vgen = torch.Generator().manual_seed(seed)
        losses = []
        for window in windows:
            batch = val_set.batch(vrng, 2048, vgen, window=window)
            b = batch["x0"].shape[0]
            t = torch.linspace(0.1, 0.9, b)
            losses.append(float(flow_loss(ema, batch, vrng, vgen, args.shift, 0.0, np.zeros(b, np.int64), t)))
        return float(np.mean(losses))

    def validation() -> dict[str, float]:
        # Video windows, and single keyframes (the text-to-video first pass).
        return {"val_loss": validate(WINDOWS * 2, 999), "val_keyframe_loss": validate((1,) * 4, 998)}

    if step > 0:  # where a resumed or initialised leg starts, measured the same way as where it ends
        log.write(step=step, **validation(), resumed=True)
    t_start = time.time()
    t_saved = t_start
    smooth = None
    frames = 0  # latent frames trained on: a video window counts its length, a keyframe batch one per clip
    model.train()
    while step < args.steps and time.time() - t_start < args.minutes * 60:
        lr = cosine_lr(args.lr, step - warmup_start, 200, schedule_progress(step, args.steps, time.time() - t_start, args.minutes))
        for group in opt.param_groups:
            group["lr"] = lr
        single = data_rng.random() < args.image_fraction
        batch = train_set.batch(data_rng, args.token_budget, gen, window=1 if single else None)
        loss = flow_loss(model, batch, data_rng, gen, args.shift, args.text_drop)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            decay = min(args.ema, (1 + step) / (10 + step))
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1.0 - decay)
        step += 1
        frames += batch["x0"].shape[0] * batch["x0"].shape[1]
        value = float(loss.detach())
        smooth = value if smooth is None else 0.98 * smooth + 0.02 * value
        if step % 25 == 0:
            elapsed = time.time() - t_start
            log.write(step=step, loss=value, smooth=smooth, lr=lr, frames_per_s=round(frames / elapsed, 1),
                      elapsed=round(elapsed, 1))
        if step % 500 == 0:
            log.write(step=step, **validation())
        if time.time() - t_saved > args.save_every:
            checkpoint()
            t_saved = time.time()
    checkpoint()
    log.write(step=step, **validation(), final=True)


if __name__ == "__main__":
    main()
