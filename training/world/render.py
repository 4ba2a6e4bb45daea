"""render_clip: paint a scene's layers once, then composite each frame through the camera path."""

from __future__ import annotations

import cv2
import numpy as np

from kadr.camera import CameraPath
from training.world.canvas import Painter, make_geometry
from training.world.movers import Movers, Pose, waves
from training.world.palette import scene_light
from training.world.places import HORIZON, PAINTERS
from training.world.scene import Scene
from training.world.settings import paint_clouds, paint_sky
from training.world.style import Stylizer

_MAX_DRIFT = 0.05  # cloud wind, frame widths per second (the canvas must cover its travel)


def _over(dst: np.ndarray, rgba: np.ndarray) -> None:
    """Premultiplied 'over' in place: dst (H, W, 3) <- rgba (H, W, 4)."""
    dst *= 1.0 - rgba[..., 3:4]
    dst += rgba[..., :3]


def render_clip(scene: Scene, num_frames: int, width: int, height: int, fps: float) -> np.ndarray:
    """Render ``scene`` as uint8 frames (F, H, W, 3); deterministic for a given scene and size."""
    if num_frames < 1 or width < 8 or height < 8 or fps <= 0:
        raise ValueError(f"render_clip: need num_frames >= 1, width/height >= 8, fps > 0; got {num_frames}, {width}x{height}, {fps}")
    rng = np.random.default_rng(scene.seed)
    path = CameraPath.from_motion(scene.camera, num_frames, fps, scene.camera_speed)
    poses = path.poses  # (F, 3): x in frame widths, y in frame heights, log zoom
    light = scene_light(scene.time_of_day, scene.weather)
    horizon = HORIZON[scene.setting] + rng.uniform(-0.04, 0.04)
    geo = make_geometry(width, height, poses, fps, horizon, _MAX_DRIFT * width)
    P = Painter(geo, light, rng, texture={"realistic": 0.12, "animation": 0.0, "artistic": 0.07}[scene.style],
                flat=scene.style == "animation", ss=2 if geo.cw * geo.ch <= 600_000 else 1)
    sky_layer, sun_x = paint_sky(P, scene)
    sky_paint = cv2.resize(sky_layer.rgba, (P.pw, P.ph), interpolation=cv2.INTER_LINEAR)  # for reflections
    clouds = paint_clouds(P, scene)
    if clouds is not None:
        clouds.drift = float(np.clip(clouds.drift, -_MAX_DRIFT * width, _MAX_DRIFT * width))
    world = PAINTERS[scene.setting](P, scene, sky_paint, sun_x)
    back = [sky_layer] + ([clouds] if clouds is not None else []) + world.back
    ground = next((lay for lay in world.back if lay.p_top != lay.p_bottom), None)
    movers = Movers(scene, world, geo, light, rng, fps)
    stylize = Stylizer(scene, geo, rng)

    out = np.empty((num_frames, height, width, 3), np.uint8)
    for i in range(num_frames):
        t = i / fps
        pose = Pose(float(poses[i, 0]), float(poses[i, 1]), float(poses[i, 2]), t)
        frame = back[0].sample(geo, poses[i], t)[..., :3].copy()  # the sky is opaque
        for lay in back[1:]:
            _over(frame, lay.sample(geo, poses[i], t))
        if scene.has("waves") and world.shore is not None and ground is not None:
            waves(frame, geo, ground, world.shore, pose, light)
        img = np.clip(frame * 255.0 + 0.5, 0, 255).astype(np.uint8)
        movers.draw_ground(img, pose)
        if world.front:
            frame = img.astype(np.float32) / 255.0
            for lay in world.front:
                _over(frame, lay.sample(geo, poses[i], t))
            img = np.clip(frame * 255.0 + 0.5, 0, 255).astype(np.uint8)
        flat = scene.style == "animation"
        if not flat:
            img = movers.draw_air(img, pose)  # painted rain and snow take the brush like the rest
        frame = stylize(img.astype(np.float32) / 255.0, poses[i], t)
        out[i] = np.clip(frame * 255.0 + 0.5, 0, 255).astype(np.uint8)
        if flat:
            out[i] = movers.draw_air(out[i], pose)  # cartoon rain and snow: plain, without outlines
    return out
