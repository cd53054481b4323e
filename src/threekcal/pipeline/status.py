"""``threekcal status`` and ``GET /pipeline``: what the pipeline is doing, from the database alone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from threekcal.db.models import PredictionBatch
from threekcal.db.session import engine_for
from threekcal.pipeline.batches import comments as comments_table
from threekcal.pipeline.batches import pending_condition
from threekcal.settings import Settings

batches = PredictionBatch.__table__


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def pipeline_status(settings: Settings) -> dict[str, Any]:
    """``{"pending", "last_predict", "last_apply", "unapplied_logs", "quarantined_lines"}`` (JSON-ready).

    ``pending``: comments without a prediction that no waiting log claims. ``last_predict``: the newest
    log written (predict or backfill); ``last_apply``: the newest log applied. ``unapplied_logs``: logs
    registered and not applied yet; ``quarantined_lines``: invalid lines set aside, over all logs.
    """
    with engine_for(settings.database_url).connect() as connection:
        pending = connection.execute(
            select(func.count()).select_from(comments_table).where(pending_condition())
        ).scalar_one()
        predicted = connection.execute(
            select(batches).order_by(batches.c.created_at.desc(), batches.c.run_id.desc()).limit(1)
        ).first()
        applied = connection.execute(
            select(batches)
            .where(batches.c.applied_at.is_not(None), batches.c.engine.is_not(None))
            .order_by(batches.c.applied_at.desc())
            .limit(1)
        ).first()
        unapplied = connection.execute(
            select(func.count()).select_from(batches).where(batches.c.applied_at.is_(None))
        ).scalar_one()
        quarantined = connection.execute(
            select(func.coalesce(func.sum(batches.c.quarantined), 0))
        ).scalar_one()
    return {
        "pending": int(pending),
        "last_predict": None
        if predicted is None
        else {
            "run_id": predicted.run_id,
            "kind": predicted.kind,
            "model_version": predicted.model_version,
            "records": predicted.records,
            "created_at": _iso(predicted.created_at),
            "predict_seconds": predicted.predict_seconds,
            "log_path": predicted.log_path,
            "applied": predicted.applied_at is not None,
        },
        "last_apply": None
        if applied is None
        else {
            "run_id": applied.run_id,
            "engine": applied.engine,
            "applied_at": _iso(applied.applied_at),
            "records": applied.records,
            "applied_rows": applied.applied_rows,
            "unknown_nums": applied.unknown_nums,
            "quarantined": applied.quarantined,
            "apply_seconds": applied.apply_seconds,
        },
        "unapplied_logs": int(unapplied),
        "quarantined_lines": int(quarantined),
    }
