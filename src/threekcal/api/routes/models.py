"""The model registry over HTTP: versions, promotion and rollback, queued training and re-scoring jobs,
drift. Training and re-scoring are only queued here; the worker or Airflow runs them, never the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from threekcal.api.deps import SessionDep, SettingsDep
from threekcal.api.errors import error_responses
from threekcal.api.policy import Action, Allowed, require
from threekcal.api.schemas import LabelSource
from threekcal.db import registry
from threekcal.db.drift import drift_report
from threekcal.db.models import LABEL_SOURCES
from threekcal.model.training_data import DEFAULT_LABEL_SOURCES

router = APIRouter(tags=["models"])
Reader = Allowed(Action.READ_MODELS)
Manager = Allowed(Action.MANAGE_MODELS)
MAX_EPOCHS = 100
MAX_VERSION_ID = 2**63 - 1


class VersionOut(BaseModel):
    id: int
    source: str
    tag: str | None
    parent_id: int | None
    created_by: str
    created_at: str | None
    training_data_hash: str | None
    training_data_size: int | None
    metrics: dict[str, Any]
    status: Literal["candidate", "active", "retired"]
    promoted_at: str | None


class JobOut(BaseModel):
    id: int
    kind: Literal["train", "rescore"]
    state: Literal["queued", "running", "succeeded", "failed"]
    params: dict[str, Any]
    progress: float
    log_tail: str
    created_by: str
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    result_version_id: int | None


class ModelsOut(BaseModel):
    versions: list[VersionOut]
    active_id: int | None
    configured_model: str = Field(
        description="THREEKCAL_MODEL: the first active version of an empty registry"
    )
    jobs: list[JobOut] = Field(description="The newest jobs, newest first")


class TrainIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_version_id: int | None = Field(default=None, ge=1, le=MAX_VERSION_ID)
    epochs: float | None = Field(default=None, gt=0, le=MAX_EPOCHS)
    learning_rate: float | None = Field(default=None, gt=0, le=1)
    label_sources: list[LabelSource] = Field(
        default=list(DEFAULT_LABEL_SOURCES),
        min_length=1,
        max_length=len(LABEL_SOURCES),
        description="Which labels train (bulk_accepted is left out by default)",
    )


VersionId = Annotated[int, Field(ge=1, le=MAX_VERSION_ID)]


def _version(version: Any) -> VersionOut:
    return VersionOut.model_validate(registry.version_summary(version))


def _job(job: Any) -> JobOut:
    return JobOut.model_validate(registry.job_summary(job))


@router.get(
    "/models", response_model=ModelsOut, responses=error_responses(401, 503), summary="Model versions"
)
def list_models(_principal: Reader, session: SessionDep, settings: SettingsDep) -> ModelsOut:
    versions = registry.list_versions(session)
    active = next((version.id for version in versions if version.status == "active"), None)
    return ModelsOut(
        versions=[_version(version) for version in versions],
        active_id=active,
        configured_model=settings.model,
        jobs=[_job(job) for job in registry.latest_jobs(session)],
    )


@router.get(
    "/models/{version_id}",
    response_model=VersionOut,
    responses=error_responses(401, 404, 503),
    summary="One version",
)
def get_model(version_id: VersionId, _principal: Reader, session: SessionDep) -> VersionOut:
    try:
        return _version(registry.get_version(session, version_id))
    except registry.VersionNotFoundError as error:
        raise HTTPException(status_code=404, detail=str(error)) from None


@router.post(
    "/models/{version_id}/promote",
    response_model=VersionOut,
    responses=error_responses(401, 403, 404, 409, 503),
    summary="Make a version active; the worker uses it from its next cycle (admin)",
)
def promote(version_id: VersionId, principal: Manager, session: SessionDep) -> VersionOut:
    try:
        return _version(registry.promote(session, version_id, author=principal.username))
    except registry.VersionNotFoundError as error:
        raise HTTPException(status_code=404, detail=str(error)) from None
    except registry.RegistryError as error:
        raise HTTPException(status_code=409, detail=str(error)) from None


@router.post(
    "/models/rollback",
    response_model=VersionOut,
    responses=error_responses(401, 403, 409, 503),
    summary="Re-activate the version active before the current one (admin)",
)
def rollback(principal: Manager, session: SessionDep) -> VersionOut:
    try:
        return _version(registry.rollback(session, author=principal.username))
    except registry.RegistryError as error:
        raise HTTPException(status_code=409, detail=str(error)) from None


@router.post(
    "/models/train",
    response_model=JobOut,
    status_code=202,
    responses=error_responses(400, 401, 403, 404, 503),
    summary="Queue a training job; the worker or Airflow runs it (admin)",
)
def queue_training(body: TrainIn, principal: Manager, session: SessionDep) -> JobOut:
    if body.base_version_id is not None:
        try:
            registry.get_version(session, body.base_version_id)
        except registry.VersionNotFoundError as error:
            raise HTTPException(status_code=404, detail=str(error)) from None
    params = body.model_dump() | {"label_sources": list(dict.fromkeys(body.label_sources))}
    return _job(registry.queue_job(session, kind="train", params=params, author=principal.username))


@router.post(
    "/models/rescore",
    response_model=JobOut,
    status_code=202,
    responses=error_responses(401, 403, 503),
    summary="Queue re-scoring every unlabelled comment with the active model (admin)",
)
def queue_rescore(principal: Manager, session: SessionDep) -> JobOut:
    return _job(registry.queue_job(session, kind="rescore", params={}, author=principal.username))


@router.get(
    "/models/jobs/{job_id}",
    response_model=JobOut,
    responses=error_responses(401, 404, 503),
    summary="A job's state, progress and log tail",
)
def get_job(job_id: VersionId, _principal: Reader, session: SessionDep) -> JobOut:
    try:
        return _job(registry.get_job(session, job_id))
    except registry.JobNotFoundError as error:
        raise HTTPException(status_code=404, detail=str(error)) from None


@router.get(
    "/drift",
    responses=error_responses(400, 503),
    summary="Daily drift of the active model's predictions",
    dependencies=[Depends(require(Action.READ_PUBLIC))],
)
def get_drift(
    session: SessionDep,
    settings: SettingsDep,
    reference_start: Annotated[
        datetime | None, Query(description="Reference window start (ISO 8601)")
    ] = None,
    reference_end: Annotated[datetime | None, Query(description="Reference window end (ISO 8601)")] = None,
) -> dict[str, Any]:
    if (reference_start is None) != (reference_end is None):
        raise HTTPException(status_code=400, detail="give both reference_start and reference_end, or neither")
    try:
        return drift_report(session, settings, reference_start=reference_start, reference_end=reference_end)
    except ValueError as error:
        raise HTTPException(status_code=400, detail=str(error)) from None
