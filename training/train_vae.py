"""Train the kadr-tiny keyframe autoencoder on frames of the procedural world.

    python -m training.train_vae                      # fresh run (seed 0), logs to checkpoints/vae/log.jsonl
    python -m training.train_vae --resume             # continue from checkpoints/vae/last.pt

Stops after --steps or --minutes (whichever first), saving every --save-every seconds; Ctrl-C or a kill
loses at most that much. The frame pool is rendered once, deterministically, and cached beside it.
At the end it measures per-channel latent statistics (the diffusion model's normalisation).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from kadr.models.autoencoder import AutoencoderConfig, VideoAutoencoder, count_parameters
from training.common import CHECKPOINTS, JsonlLog, cosine_lr, schedule_progress, load_checkpoint, restore_rng, rng_state, save_checkpoint, seed_everything, set_threads

# Frame sizes rendered for the pool (generation grids of the fast and high tiers).
POOL_SIZES: tuple[tuple[int, int], ...] = ((256, 160), (160, 256), (192, 192), (224, 192), (384, 224), (288, 288))


def render_pool(count: int, seed: int) -> list[np.ndarray]:
    """``count`` frames (H, W, 3) uint8 of random scenes, three frames 1 s apart per scene."""
    from training.world import render_clip, sample_scene

    rng = np.random.default_rng(seed)
    frames: list[np.ndarray] = []
    while len(frames) < count:
        w, h = POOL_SIZES[int(rng.integers(len(POOL_SIZES)))]
        scene = sample_scene(rng)
        clip = render_clip(scene, 3, w, h, 1)  # (3, H, W, 3)
        frames.extend(np.ascontiguousarray(f) for f in clip)
    return frames[:count]


def load_pool(path: Path, count: int, seed: int) -> list[np.ndarray]:
    if path.is_file():
        pool = torch.load(path, weights_only=False)
        if len(pool) >= count:
            return pool[:count]
    t0 = time.time()
    pool = render_pool(count, seed)
    torch.save(pool, path)
    print(f"rendered {len(pool)} pool frames in {time.time() - t0:.0f} s", flush=True)
    return pool


def sample_batch(pool: list[np.ndarray], batch: int, crop: int, rng: np.random.Generator) -> torch.Tensor:
    """(B, 3, crop, crop) in [-1, 1]: random crops with random horizontal flips."""
    out = np.empty((batch, crop, crop, 3), np.uint8)
    for i in range(batch):
        frame = pool[int(rng.integers(len(pool)))]
        h, w = frame.shape[:2]
        y, x = int(rng.integers(h - crop + 1)), int(rng.integers(w - crop + 1))
        patch = frame[y:y + crop, x:x + crop]
        out[i] = patch[:, ::-1] if rng.random() < 0.5 else patch
    return torch.from_numpy(out).permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (B, 3, crop, crop)


@torch.no_grad()
def latent_stats(vae: VideoAutoencoder, pool: list[np.ndarray], limit: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    zs = []
    for frame in pool[:limit]:
        h, w = frame.shape[:2]
        x = torch.from_numpy(frame[: h // 16 * 16, : w // 16 * 16]).permute(2, 0, 1)[None].float() / 127.5 - 1.0
        zs.append(vae.encoder(x).flatten(2))  # (1, C, h*w)
    z = torch.cat(zs, dim=2)[0]  # (C, N)
    return z.mean(dim=1), z.std(dim=1).clamp_min(1e-3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=CHECKPOINTS / "vae")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--batch", type=int, default=12)
    parser.add_argument("--crop", type=int, default=96)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--pool", type=int, default=1800)
    parser.add_argument("--latent-noise", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--save-every", type=float, default=120.0)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()

    set_threads(args.threads)
    seed_everything(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    log = JsonlLog(args.out / "log.jsonl")
    config = AutoencoderConfig()
    vae = VideoAutoencoder(config)
    opt = torch.optim.AdamW(vae.parameters(), lr=args.lr, weight_decay=1e-4, betas=(0.9, 0.99))
    step = 0
    data_rng = np.random.default_rng(args.seed + 1)
    state = load_checkpoint(args.out / "last.pt") if args.resume else None
    if state is not None:
        vae.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step = state["step"]
        data_rng.bit_generator.state = state["data_rng"]
        restore_rng(state["rng"])
        print(f"resumed at step {step}", flush=True)
    print(f"autoencoder parameters: {count_parameters(vae)}", flush=True)
    pool = load_pool(args.out / "pool.pt", args.pool, args.seed)

    def checkpoint() -> None:
        save_checkpoint(args.out / "last.pt", model=vae.state_dict(), optimizer=opt.state_dict(), step=step,
                        data_rng=data_rng.bit_generator.state, rng=rng_state(), config=config.to_dict())

    t_start = time.time()
    t_saved = t_start
    running = 0.0
    vae.train()
    while step < args.steps and time.time() - t_start < args.minutes * 60:
        lr = cosine_lr(args.lr, step, 100, schedule_progress(step, args.steps, time.time() - t_start, args.minutes))
        for group in opt.param_groups:
            group["lr"] = lr
        x = sample_batch(pool, args.batch, args.crop, data_rng)
        z = vae.encoder(x)
        z_noisy = z + args.latent_noise * z.detach().std() * torch.randn_like(z)
        y = vae.decoder(z_noisy)
        loss = F.l1_loss(y, x) + F.mse_loss(y, x) + 1e-4 * z.pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        step += 1
        value = float(loss.detach())
        running = 0.98 * running + 0.02 * value if step > 1 else value
        if step % 25 == 0:
            log.write(step=step, loss=value, smooth=running, lr=lr, elapsed=round(time.time() - t_start, 1))
        if time.time() - t_saved > args.save_every:
            checkpoint()
            t_saved = time.time()
    checkpoint()
    vae.eval()
    mean, std = latent_stats(vae, pool)
    vae.latent_mean.copy_(mean)
    vae.latent_std.copy_(std)
    with torch.no_grad():
        x = sample_batch(pool, 32, args.crop, np.random.default_rng(12345))
        psnr = -10 * torch.log10(F.mse_loss(vae.decoder(vae.encoder(x)).clamp(-1, 1), x) / 4.0)
    save_checkpoint(args.out / "final.pt", model=vae.state_dict(), config=config.to_dict(), step=step)
    log.write(step=step, final=True, psnr=float(psnr), latent_std=[round(float(s), 3) for s in std])


if __name__ == "__main__":
    main()
