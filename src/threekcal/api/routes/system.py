"""Health and pipeline state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from threekcal.api.deps import SettingsDep
from threekcal.api.errors import error_responses
from threekcal.api.policy import Action, require
from threekcal.api.schemas import HealthOut, PipelineOut
from threekcal.db import migrate
from threekcal.db.session import engine_for

router = APIRouter(tags=["system"], dependencies=[Depends(require(Action.READ_PUBLIC))])


@router.get(
    "/health", response_model=HealthOut, responses=error_responses(503), summary="Liveness and schema"
)
def health(settings: SettingsDep) -> HealthOut:
    """200 only when the database answers and its schema is at the revision this code expects."""
    current = migrate.current_revision(engine_for(settings.database_url, settings.db_timeout))
    head = migrate.head_revision()
    if current is None or current != head:
        raise HTTPException(
            status_code=503,
            detail=f"Database schema is at revision {current or 'none'}, this server needs {head}: "
            "run `threekcal db upgrade`",
        )
    return HealthOut(status="ok", database="ok", schema_revision=current, schema_head=head)


@router.get(
    "/pipeline",
    response_model=PipelineOut,
    responses=error_responses(503),
    summary="Pending comments, last prediction and apply runs, logs not applied yet",
)
def pipeline(settings: SettingsDep) -> dict[str, Any]:
    try:
        from threekcal.pipeline.status import pipeline_status  # the pipeline part is optional at import time
    except ModuleNotFoundError as error:
        raise HTTPException(status_code=503, detail=f"Pipeline status unavailable: {error}") from None
    return pipeline_status(settings)
