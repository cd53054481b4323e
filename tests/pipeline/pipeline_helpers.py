"""Pipeline test helpers: a deterministic test-double classifier, comment seeding, log files."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from threekcal.db.models import Comment, PredictionBatch
from threekcal.db.session import engine_for
from threekcal.emotions import LABELS
from threekcal.pipeline.records import log_record

KEYWORDS = {
    "angry": "anger",
    "gross": "disgust",
    "scared": "fear",
    "happy": "joy",
    "sad": "sadness",
    "wow": "surprise",
}


@dataclass(frozen=True)
class KeywordPrediction:
    label: str
    score: float
    scores: dict[str, float]


class KeywordClassifier:
    """Test double for ``threekcal.model.Classifier``: a keyword picks the label, 'neutral' otherwise.

    The chosen label gets 0.7 and every other 0.05, so the 7 probabilities sum to 1.
    """

    def __init__(self, model_version: str = "test-keywords@1") -> None:
        self.model_version = model_version
        self.calls: list[int] = []

    def predict(self, texts: Sequence[str], **_: Any) -> list[KeywordPrediction]:
        self.calls.append(len(texts))
        return [self._one(text) for text in texts]

    @staticmethod
    def _one(text: str) -> KeywordPrediction:
        label = next((emotion for word, emotion in KEYWORDS.items() if word in text.lower()), "neutral")
        scores = {name: (0.7 if name == label else 0.05) for name in LABELS}
        return KeywordPrediction(label, scores[label], scores)


def add_comments(database_url: str, texts: Sequence[str], user: str = "alice") -> list[int]:
    """Insert comments (as the API does) and return their nums in order."""
    nums = []
    with engine_for(database_url).begin() as connection:
        for text in texts:
            result = connection.execute(
                insert(Comment).values(
                    comments=text,
                    request_user=user,
                    request_time=datetime.now(UTC),
                    receipt=secrets.token_urlsafe(16),
                )
            )
            nums.append(result.inserted_primary_key[0])
    return nums


def comment_rows(database_url: str) -> dict[int, dict[str, Any]]:
    with engine_for(database_url).connect() as connection:
        rows = connection.execute(select(Comment.__table__).order_by(Comment.num)).mappings().all()
    return {row["num"]: dict(row) for row in rows}


def batch_rows(database_url: str) -> dict[str, dict[str, Any]]:
    with engine_for(database_url).connect() as connection:
        rows = connection.execute(select(PredictionBatch.__table__)).mappings().all()
    return {row["run_id"]: dict(row) for row in rows}


def record(
    num: int,
    run_id: str,
    label: str = "joy",
    *,
    when: datetime | None = None,
    model_version: str = "test-model@1",
) -> dict[str, Any]:
    scores = {name: (0.4 if name == label else 0.1) for name in LABELS}
    return log_record(
        num=num,
        label=label,
        score=scores[label],
        scores=scores,
        model_version=model_version,
        prediction_time=when or datetime.now(UTC),
        run_id=run_id,
    )


def write_log_lines(log_dir: Path, run_id: str, lines: Sequence[str], *, newline_at_end: bool = True) -> str:
    """Write a log file by hand (as a late or damaged log would arrive); returns its relative path."""
    relpath = f"date=2026-11-24/{run_id}.jsonl"
    path = log_dir / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + ("\n" if newline_at_end else ""), encoding="utf-8")
    return relpath


def register_log(
    database_url: str, run_id: str, relpath: str, records: int, num_min: int, num_max: int, **extra: Any
) -> None:
    with engine_for(database_url).begin() as connection:
        connection.execute(
            insert(PredictionBatch).values(
                run_id=run_id,
                log_path=relpath,
                kind="predict",
                model_version="test-model@1",
                records=records,
                num_min=num_min,
                num_max=num_max,
                created_at=datetime.now(UTC) - timedelta(seconds=1),
                **extra,
            )
        )


def add_log(database_url: str, log_dir: Path, run_id: str, records: Sequence[dict[str, Any]]) -> str:
    """A well-formed, registered log with ``records``."""
    relpath = write_log_lines(log_dir, run_id, [json.dumps(item) for item in records])
    nums = [item["num"] for item in records]
    register_log(database_url, run_id, relpath, len(records), min(nums), max(nums))
    return relpath
