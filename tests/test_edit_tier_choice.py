"""A tier picks, among its models present, one that can do what the request asks (remix, first and last frame)."""

from __future__ import annotations

import pytest

from kadr.pipelines import registry
from kadr.request import VideoRequest

PRESENT = {"wan2.2-t2v-a14b", "wan2.1-t2v-14b"}  # the high tier's first choice (shots only), then one that remixes


@pytest.fixture
def two_high_models(monkeypatch) -> None:
    monkeypatch.setattr(registry, "_configured_tiers", lambda: {})
    monkeypatch.setattr(registry, "weights_present", lambda spec: spec.name in PRESENT)


def test_without_features_the_tier_choice_is_as_before(two_high_models) -> None:
    assert registry.model_for_tier("high", "text-to-video").name == "wan2.2-t2v-a14b"
    assert registry.model_for_tier("high", "text-to-video", ("shots",)).name == "wan2.2-t2v-a14b"


def test_a_remix_goes_to_the_tier_model_that_remixes(two_high_models) -> None:
    spec = registry.model_for_tier("high", "text-to-video", ("remix",))
    assert spec.name == "wan2.1-t2v-14b" and "remix" in spec.features


def test_the_engine_plans_on_the_tier_model_that_can(two_high_models, monkeypatch) -> None:
    from kadr.engine import Engine

    request = VideoRequest(prompt="Ночной пляж", tier="high")
    assert Engine().plan(request).spec.name == "wan2.2-t2v-a14b"
    # A request needing first and last frame (engine.plan reads VideoRequest.features): before, the tier's
    # first model was picked and refused it.
    monkeypatch.setattr(VideoRequest, "features", property(lambda self: ("first-last-frame",)))
    assert Engine().plan(request).spec.name == registry.BUILTIN_MODEL


def test_first_and_last_frame_falls_to_the_builtin_model_when_no_tier_model_can(two_high_models) -> None:
    spec = registry.model_for_tier("high", "text-to-video", ("first-last-frame",))
    assert spec.name == registry.BUILTIN_MODEL and "first-last-frame" in spec.features


def test_what_no_model_here_can_do_keeps_the_tier_choice(two_high_models) -> None:
    # A reference picture: neither present model nor kadr-tiny takes one; the request is refused later, by
    # the model it would go to anyway, with the error naming the models that could (kadr.engine.check_features).
    assert registry.model_for_tier("high", "text-to-video", ("reference",)).name == "wan2.2-t2v-a14b"


def test_a_configured_tier_model_stays_the_tier_model(monkeypatch) -> None:
    monkeypatch.setattr(registry, "_configured_tiers", lambda: {"fast": "wan2.1-t2v-1.3b"})
    assert registry.model_for_tier("fast", "text-to-video", ("first-last-frame",)).name == "wan2.1-t2v-1.3b"
