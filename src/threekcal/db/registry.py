"""Model registry rules: versions, which one is active, promotion and rollback, training jobs, audit.

Exactly one version is ``active`` at a time once the registry has any; promoting a version retires the
active one; rollback re-activates the version that was active before the current one. Every action
writes a ``RegistryEvent`` with its author in the same transaction as the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from threekcal.db.models import JOB_KINDS, ModelVersion, RegistryEvent, TrainingJob
from threekcal.db.queries import serialized_writes
from threekcal.db.types import utcnow

SYSTEM_AUTHOR = "system"
LOG_TAIL_CHARS = 4000


class RegistryError(ValueError):
    """A registry action that cannot be done; the message says why (nothing was changed)."""


class VersionNotFoundError(RegistryError, LookupError):
    def __init__(self, version_id: int) -> None:
        super().__init__(f"Model version {version_id} not found")
        self.version_id = version_id


class JobNotFoundError(RegistryError, LookupError):
    def __init__(self, job_id: int) -> None:
        super().__init__(f"Training job {job_id} not found")
        self.job_id = job_id


@dataclass(frozen=True)
class ActiveModel:
    """What the worker needs to know each cycle: cheap to read, compared to reload only on a change."""

    version_id: int
    source: str


def _audit(session: Session, action: str, author: str, **fields: Any) -> None:
    details = fields.pop("details", None)
    session.add(RegistryEvent(action=action, author=author, at=utcnow(), details=details, **fields))


def active_version(session: Session) -> ModelVersion | None:
    return session.scalars(
        select(ModelVersion).where(ModelVersion.status == "active").order_by(ModelVersion.id.desc()).limit(1)
    ).first()


def active_model(session: Session) -> ActiveModel | None:
    row = session.execute(
        select(ModelVersion.id, ModelVersion.source)
        .where(ModelVersion.status == "active")
        .order_by(ModelVersion.id.desc())
        .limit(1)
    ).first()
    return ActiveModel(row.id, row.source) if row else None


def ensure_initial_version(session: Session, source: str, *, tag: str | None = None) -> ActiveModel:
    """The active model; on an empty registry ``source`` (THREEKCAL_MODEL) is registered as active first.

    That first version follows THREEKCAL_MODEL until it has been loaded once: a first start without the
    model (no internet), then THREEKCAL_MODEL pointed at a model that is there, must not stay stuck on
    the model that never loaded. Once loaded (it has a tag), or once there are other versions, the
    registry alone decides."""
    current = active_model(session)
    if current is not None:
        return _follow_unloaded_seed(session, current, source)
    with serialized_writes(session):
        if session.scalar(select(func.count()).select_from(ModelVersion)):
            # Versions exist but none is active (every one retired by hand): keep it that way, loudly.
            raise RegistryError("no model version is active: promote one with `threekcal models promote ID`")
        now = utcnow()
        version = ModelVersion(
            source=source, tag=tag, created_by=SYSTEM_AUTHOR, created_at=now, status="active", promoted_at=now
        )
        session.add(version)
        session.flush()
        _audit(session, "register-initial", SYSTEM_AUTHOR, version_id=version.id, details={"source": source})
        session.commit()
    return ActiveModel(version.id, version.source)


def _follow_unloaded_seed(session: Session, current: ActiveModel, source: str) -> ActiveModel:
    if current.source == source:
        return current

    def is_unloaded_seed() -> bool:
        version = session.get(ModelVersion, current.version_id)
        return (
            version is not None
            and version.tag is None
            and version.created_by == SYSTEM_AUTHOR
            and session.scalar(select(func.count()).select_from(ModelVersion)) == 1
        )

    # Every worker cycle gets here once a promoted version differs from THREEKCAL_MODEL: read first, and
    # take SQLite's write slot only to reseed (checked again under it).
    unloaded = is_unloaded_seed()
    session.rollback()  # ends the read: under the write slot the check reads afresh
    if not unloaded:
        return current
    with serialized_writes(session):
        if not is_unloaded_seed():
            session.rollback()
            return current
        version = session.get(ModelVersion, current.version_id)
        assert version is not None
        version.source = source
        _audit(session, "reseed-initial", SYSTEM_AUTHOR, version_id=version.id,
               details={"source": source, "instead_of": current.source})  # fmt: skip
        session.commit()
    return ActiveModel(current.version_id, source)


def list_versions(session: Session) -> list[ModelVersion]:
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.id)))


def get_version(session: Session, version_id: int) -> ModelVersion:
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise VersionNotFoundError(version_id)
    return version


def register_candidate(
    session: Session,
    *,
    source: str,
    tag: str | None,
    parent_id: int | None,
    created_by: str,
    training_data_hash: str,
    training_data_size: int,
    metrics: dict[str, Any],
    job_id: int | None = None,
) -> ModelVersion:
    with serialized_writes(session):
        version = ModelVersion(
            source=source,
            tag=tag,
            parent_id=parent_id,
            created_by=created_by,
            created_at=utcnow(),
            training_data_hash=training_data_hash,
            training_data_size=training_data_size,
            metrics=metrics,
            status="candidate",
        )
        session.add(version)
        session.flush()
        if job_id is not None:
            job = session.get(TrainingJob, job_id, with_for_update=True)
            if job is not None:
                job.result_version_id = version.id
        _audit(session, "register", created_by, version_id=version.id, job_id=job_id)
        session.commit()
    return version


def promote(session: Session, version_id: int, *, author: str, action: str = "promote") -> ModelVersion:
    """Make ``version_id`` the active version; the one active before is retired."""
    with serialized_writes(session):
        version = session.get(ModelVersion, version_id, with_for_update=True)
        if version is None:
            raise VersionNotFoundError(version_id)
        if version.status == "active":
            raise RegistryError(f"model version {version_id} is already active")
        previous = active_version(session)
        session.execute(update(ModelVersion).where(ModelVersion.status == "active").values(status="retired"))
        version.status = "active"
        version.promoted_at = utcnow()
        _audit(
            session,
            action,
            author,
            version_id=version.id,
            details={"previous_version_id": previous.id if previous else None},
        )
        session.commit()
    return version


def rollback(session: Session, *, author: str) -> ModelVersion:
    """Re-activate the version that was active before the current one."""
    current = active_version(session)
    if current is None:
        raise RegistryError("no model version is active, so there is nothing to roll back")
    earlier = session.scalars(
        select(ModelVersion)
        .where(ModelVersion.id != current.id, ModelVersion.promoted_at.is_not(None))
        .where(ModelVersion.promoted_at <= current.promoted_at)
        .order_by(ModelVersion.promoted_at.desc(), ModelVersion.id.desc())
        .limit(1)
    ).first()
    if earlier is None:
        raise RegistryError(
            f"model version {current.id} is the first one ever active: nothing to roll back to"
        )
    return promote(session, earlier.id, author=author, action="rollback")


def last_trained_at(session: Session) -> datetime | None:
    """When the newest trained version (one with training data) was registered."""
    return session.scalar(
        select(func.max(ModelVersion.created_at)).where(ModelVersion.training_data_hash.is_not(None))
    )


# -- jobs ------------------------------------------------------------------------------------------


def queue_job(session: Session, *, kind: str, params: dict[str, Any], author: str) -> TrainingJob:
    if kind not in JOB_KINDS:
        raise RegistryError(f"unknown job kind {kind!r}: use one of {', '.join(JOB_KINDS)}")
    with serialized_writes(session):
        job = TrainingJob(
            kind=kind, state="queued", params=params, progress=0.0, created_by=author, created_at=utcnow()
        )
        session.add(job)
        session.flush()
        _audit(session, f"queue-{kind}", author, job_id=job.id, details=params)
        session.commit()
    return job


def get_job(session: Session, job_id: int) -> TrainingJob:
    job = session.get(TrainingJob, job_id)
    if job is None:
        raise JobNotFoundError(job_id)
    return job


def latest_jobs(session: Session, limit: int = 10) -> list[TrainingJob]:
    return list(session.scalars(select(TrainingJob).order_by(TrainingJob.id.desc()).limit(limit)))


def claim_next_job(session: Session, *, kinds: tuple[str, ...] = JOB_KINDS) -> TrainingJob | None:
    """The oldest queued job, marked running (one claimer wins: the state is checked in the UPDATE)."""
    with serialized_writes(session):
        job_id = session.scalar(
            select(TrainingJob.id)
            .where(TrainingJob.state == "queued", TrainingJob.kind.in_(kinds))
            .order_by(TrainingJob.id)
            .limit(1)
        )
        if job_id is None:
            return None
        now = utcnow()
        claimed = session.execute(
            update(TrainingJob)
            .where(TrainingJob.id == job_id, TrainingJob.state == "queued")
            .values(state="running", started_at=now, heartbeat_at=now)
        ).rowcount
        session.commit()
    return session.get(TrainingJob, job_id) if claimed else None


def job_progress(session: Session, job_id: int, *, progress: float, log_tail: str | None = None) -> None:
    values: dict[str, Any] = {"progress": max(0.0, min(1.0, progress)), "heartbeat_at": utcnow()}
    if log_tail is not None:
        values["log_tail"] = log_tail[-LOG_TAIL_CHARS:]
    with serialized_writes(session):
        session.execute(update(TrainingJob).where(TrainingJob.id == job_id).values(**values))
        session.commit()


def finish_job(
    session: Session, job_id: int, *, succeeded: bool, log_tail: str, result_version_id: int | None = None
) -> None:
    values: dict[str, Any] = {
        "state": "succeeded" if succeeded else "failed",
        "finished_at": utcnow(),
        "log_tail": log_tail[-LOG_TAIL_CHARS:],
    }
    if succeeded:
        values["progress"] = 1.0
    if result_version_id is not None:
        values["result_version_id"] = result_version_id
    with serialized_writes(session):
        session.execute(update(TrainingJob).where(TrainingJob.id == job_id).values(**values))
        session.commit()


def fail_stale_jobs(session: Session, *, stale_after: timedelta) -> list[int]:
    """Running jobs whose process stopped reporting (killed, machine lost) are marked failed."""
    cutoff = utcnow() - stale_after
    with serialized_writes(session):
        stale = list(
            session.scalars(
                select(TrainingJob.id).where(
                    TrainingJob.state == "running", TrainingJob.heartbeat_at < cutoff
                )
            )
        )
        if stale:
            session.execute(
                update(TrainingJob)
                .where(TrainingJob.id.in_(stale), TrainingJob.state == "running")
                .values(state="failed", finished_at=utcnow(), log_tail="the job's process stopped reporting")
            )
            session.commit()
    return stale


def running_job(session: Session) -> TrainingJob | None:
    return session.scalars(
        select(TrainingJob).where(TrainingJob.state.in_(("queued", "running"))).order_by(TrainingJob.id)
    ).first()


def events(session: Session, limit: int = 100) -> list[RegistryEvent]:
    return list(session.scalars(select(RegistryEvent).order_by(RegistryEvent.id.desc()).limit(limit)))


def version_summary(version: ModelVersion) -> dict[str, Any]:
    """A JSON-able view of one version (CLI ``--json``, API)."""
    return {
        "id": version.id,
        "source": version.source,
        "tag": version.tag,
        "parent_id": version.parent_id,
        "created_by": version.created_by,
        "created_at": version.created_at.isoformat() if version.created_at else None,
        "training_data_hash": version.training_data_hash,
        "training_data_size": version.training_data_size,
        "metrics": version.metrics or {},
        "status": version.status,
        "promoted_at": version.promoted_at.isoformat() if version.promoted_at else None,
    }


def job_summary(job: TrainingJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "params": job.params or {},
        "progress": job.progress,
        "log_tail": job.log_tail or "",
        "created_by": job.created_by,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "result_version_id": job.result_version_id,
    }
