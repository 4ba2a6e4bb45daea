"""GET /v1/models and POST /v1/prompt/check: the model registry and the prompt advice, as the API shows them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, WithJsonSchema

from kadr.camera import CAMERA_MOTIONS
from kadr.request import ASPECTS, STYLES, TIERS, check_text
from kadr.service.videos import SECONDS_SCHEMA, parse_seconds, text_schema


class PromptCheck(BaseModel):
    """The body of POST /v1/prompt/check (validated strictly, like a JSON POST /v1/videos)."""

    model_config = ConfigDict(extra="forbid")

    prompt: Annotated[str, WithJsonSchema(text_schema("The prompt to read.", required=True))]
    camera: Literal[CAMERA_MOTIONS] | None = None  # type: ignore[valid-type]
    style: Literal[STYLES] | None = None  # type: ignore[valid-type]
    aspect: Literal[tuple(ASPECTS)] | None = None  # type: ignore[valid-type]
    seconds: Annotated[Any, WithJsonSchema(SECONDS_SCHEMA)] = None
    has_image: bool = False


def list_models(created: int) -> list[dict[str, Any]]:
    """Every model kadr knows, in OpenAI's model-object shape plus what the page needs to pick one."""
    from kadr.pipelines import registry

    serving: dict[str, list[str]] = {}
    for tier in TIERS:
        serving.setdefault(registry.model_for_tier(tier, "text-to-video").name, []).append(tier)
    models = []
    for spec in registry.all_specs():
        models.append({
            "id": spec.name,
            "object": "model",
            "created": created,
            "owned_by": "kadr",
            "description": spec.description,
            "family": spec.family,
            "tasks": list(spec.tasks),
            "features": list(spec.features),  # extend, remix, first-last-frame, shots, reference (issue 18)
            "tiers": serving.get(spec.name, []),
            "available": spec.builtin or registry.weights_present(spec),
            "parameters": spec.parameters,
            "native_fps": spec.native_fps,
            "longest_clip_s": round(spec.longest_clip_s, 2),
            "resolutions": {aspect: {tier: f"{w}x{h}" for tier, (w, h) in per.items()}
                            for aspect, per in spec.resolutions.items()},
        })
    return models


def check_prompt(body: PromptCheck, max_chars: int) -> dict[str, Any]:
    """kadr.prompt's plan of the prompt (language, camera, style, score, advice) as a dict."""
    from kadr.prompt import plan_prompt

    prompt = check_text(body.prompt, "prompt", max_chars, required=True)
    seconds = parse_seconds(body.seconds) if body.seconds is not None else None
    return plan_prompt(prompt, camera=body.camera, style=body.style, aspect=body.aspect, duration=seconds,
                       has_image=body.has_image).to_dict()
