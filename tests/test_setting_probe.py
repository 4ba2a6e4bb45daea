"""The setting probe used by training.evaluate names the setting of held-out world renders."""

from __future__ import annotations

import numpy as np

from training.setting_probe import SettingProbe, features, fitted, render_set
from training.world import SETTINGS


def test_probe_names_the_setting_of_held_out_daytime_renders() -> None:
    probe, accuracy = fitted(16, seed=3, time_of_day="day")
    assert accuracy >= 0.7  # chance is 1/8


def test_probe_is_no_better_than_chance_on_shuffled_labels() -> None:
    x, y = render_set(12, seed=5, time_of_day="day")
    shuffled = np.random.default_rng(0).permutation(y)
    probe = SettingProbe.fit(x[:64], shuffled[:64])
    assert np.mean(probe.predict(x[64:]) == shuffled[64:]) < 0.4


def test_features_are_a_coarse_layout_of_any_frame_size() -> None:
    tall = np.zeros((256, 144, 3), np.uint8)
    tall[:128] = 255  # bright above, dark below
    f = features(tall).reshape(6, 8, 4)
    assert f.shape == (6, 8, 4) and f[0, :, :3].min() > 0.9 and f[-1, :, :3].max() < 0.1
    assert len(SETTINGS) == 8
