"""What a model cannot do, refused at the API naming the field that asked for it (issue 18).

The engine's own check (kadr.engine.check_features) names ``model``; the API knows which of its fields
asked for each feature, so the caller learns what to change: drop ``last_image``, ``shots`` or
``characters``, or pick one of the models that can.
"""

from __future__ import annotations

from kadr.errors import InvalidRequestError
from kadr.pipelines.base import FEATURES, ModelSpec
from kadr.request import VideoRequest

# Which API field asks a model for each feature (remix, edit and extend are asked by the route: the model is
# what to change).
FEATURE_PARAMS: dict[str, str] = {"extend": "model", "remix": "model", "first-last-frame": "last_image",
                                  "shots": "shots", "reference": "characters"}


class UnsupportedFeature(InvalidRequestError):
    """The chosen model cannot do what the request asks; ``field`` is the API parameter. A 400 ``unsupported_feature``."""

    def __init__(self, field: str, model: str, feature: str, able: list[str]) -> None:
        allowed = ("a model that can: " + ", ".join(able)) if able else "none of the models here can"
        super().__init__(field, model, allowed)
        self.feature = feature
        self.args = (f"{field}: {model} cannot {FEATURES[feature]}; {allowed}.",)

    def __str__(self) -> str:
        return str(self.args[0])


def require_features(request: VideoRequest, spec: ModelSpec) -> None:
    """Refuse what ``spec`` cannot do, naming the API field that asked for it and the models that can."""
    from kadr.pipelines import registry

    for feature in request.features:
        if feature in spec.features:
            continue
        able = [s.name + ("" if s.builtin or registry.weights_present(s) else " (weights not on this server)")
                for s in registry.all_specs() if feature in s.features]
        raise UnsupportedFeature(FEATURE_PARAMS[feature], spec.name, feature, able)
