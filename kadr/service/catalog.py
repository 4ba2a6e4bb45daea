"""GET /v1/models and POST /v1/prompt/check: the model registry and the prompt advice, as the API shows them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from kadr.service.videos import parse_seconds


class PromptCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str
    camera: str | None = None
    style: str | None = None
    aspect: str | None = None
    seconds: str | float | None = None
    has_image: bool = False


def list_models(created: int) -> list[dict[str, Any]]:
    """Every model kadr knows, in OpenAI's model-object shape plus what the page needs to pick one."""
    from kadr.pipelines import registry

    serving: dict[str, list[str]] = {}
    for tier in ("fast", "high"):
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
    from kadr.errors import InvalidRequestError
    from kadr.prompt import plan_prompt

    if len(body.prompt) > max_chars:
        raise InvalidRequestError("prompt", f"{len(body.prompt)} characters", f"at most {max_chars} characters")
    seconds = parse_seconds(body.seconds) if body.seconds not in (None, "") else None
    return plan_prompt(body.prompt, camera=body.camera or None, style=body.style or None, aspect=body.aspect or None,
                       duration=seconds, has_image=body.has_image).to_dict()
