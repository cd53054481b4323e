"""Drift fixture: a reference week after promotion, an unchanged week, and a week whose anger share rises
by 30 points (14% -> 44%), 140 predictions a day, the same spread of top scores every day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, update

from threekcal.db import registry
from threekcal.db.models import Comment, ModelVersion
from threekcal.db.session import engine_for, session_factory
from threekcal.emotions import LABELS
from threekcal.settings import Settings

PROMOTED = datetime(2026, 10, 1, tzinfo=UTC)
PER_DAY = 140
TAG = "tiny@0123456789ab"


def _day_rows(day: int, mix: dict[str, int]) -> list[dict[str, object]]:
    rows = []
    for label, count in mix.items():
        for index in range(count):
            rows.append(
                {
                    "comments": f"{label} {day} {index}",
                    "request_user": "drift",
                    "request_time": PROMOTED + timedelta(days=day, minutes=5 * index + LABELS.index(label)),
                    "receipt": f"drift-{day}-{label}-{index}",
                    "prediction_result": label,
                    # the same spread of top scores every day: only the mix changes
                    "prediction_score": 0.3 + 0.6 * index / max(1, count - 1),
                    "model_version": f"{TAG}+torch",
                }
            )
    return rows


def seed_drift(settings: Settings) -> None:
    even = {label: PER_DAY // len(LABELS) for label in LABELS}  # 20 each
    angry = {label: 13 for label in LABELS} | {"anger": PER_DAY - 13 * 6}  # 62: 14% -> 44% anger
    rows = []
    for day in range(21):  # reference week, unchanged week, angry week
        rows += _day_rows(day, angry if day >= 14 else even)
    rows += [
        row | {"model_version": "older@1+torch", "receipt": f"old-{row['receipt']}"} for row in rows[:50]
    ]
    with engine_for(settings.database_url).begin() as connection:
        connection.execute(insert(Comment), rows)
    with session_factory(settings.database_url)() as session:
        active = registry.ensure_initial_version(session, settings.model, tag=TAG)
        session.execute(
            update(ModelVersion).where(ModelVersion.id == active.version_id).values(promoted_at=PROMOTED)
        )
        session.commit()
