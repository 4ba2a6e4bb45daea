"""/v1/models, /v1/prompt/check, /v1/usage and /v1/me."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from kadr.service.api import deps
from kadr.service.api.bodies import body_of, prompt_check_body
from kadr.service.api.errors import error_responses
from kadr.service.api.models import MeOut, ModelList, ModelObject, UsageOut
from kadr.service.catalog import PromptCheck, check_prompt, list_models
from kadr.service.store import UserRecord
from kadr.service.usage import UsageService

router = APIRouter(prefix="/v1", dependencies=[Depends(deps.current_user)])

User = Annotated[UserRecord, Depends(deps.current_user)]


@router.get("/models", response_model=ModelList, responses=error_responses())
def models(request: Request) -> ModelList:
    return ModelList(data=[ModelObject.model_validate(m) for m in list_models(request.app.state.started)])


@router.post("/prompt/check", responses=error_responses(400), openapi_extra=body_of(("application/json", "PromptCheck")))
def prompt_check(body: Annotated[PromptCheck, Depends(prompt_check_body)], request: Request) -> dict[str, Any]:
    return check_prompt(body, request.app.state.settings.max_prompt_chars)


@router.get("/usage", response_model=UsageOut, responses=error_responses())
def usage(user: User, service: Annotated[UsageService, Depends(deps.usage)]) -> UsageOut:
    return UsageOut.model_validate(service.report(user))


@router.get("/me", response_model=MeOut, responses=error_responses())
def me(user: User, request: Request) -> MeOut:
    return MeOut(user=user.name, plan=request.app.state.plans.get(user.plan).name, webhook_url=user.webhook_url)
