"""One line of a prediction log, its validation, and reading a whole log.

A record::

    {"num": 12, "prediction_result": "joy", "prediction_score": 0.91,
     "prediction_scores": {"anger": 0.01, ..., "surprise": 0.02}, "model_version": "...",
     "prediction_time": "2026-11-24T12:00:00.123456+00:00", "run_id": "..."}

The rules (the Spark apply enforces the same ones with Spark expressions, see ``spark_apply``):
the line is a JSON object; ``num`` an integer > 0; ``prediction_result`` one of the 7 labels;
``prediction_score`` in [0, 1] and equal to ``prediction_scores[prediction_result]``;
``prediction_scores`` exactly the 7 labels, each in [0, 1], summing to 1 (within 1e-3);
``model_version`` a non-empty string; ``prediction_time`` ISO 8601 with a UTC offset; ``run_id`` the
log's own. Other keys are ignored; blank lines are skipped; any other line is quarantined.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)

from threekcal.emotions import LABELS, Emotion

MAX_NUM = 2**63 - 1
MAX_MODEL_VERSION_CHARS = 255
SCORES_SUM_TOLERANCE = 1e-3
SCORE_MATCH_TOLERANCE = 1e-6
# Shared with the Spark engine, so both read exactly the same lines as records. ASCII digits only,
# and offsets within the +-18:00 that Java accepts.
ISO_TIME_WITH_OFFSET = (
    r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
    r"(Z|[+-](0[0-9]|1[0-7]):[0-5][0-9]|[+-]18:00)$"
)
JSON_OBJECT_LINE = r"^\s*\{.*\}\s*$"
BLANK_LINE = r"^[ \t\r]*$"
STRING_FIELDS = ("prediction_result", "model_version", "prediction_time", "run_id")
_ISO_TIME = re.compile(ISO_TIME_WITH_OFFSET)
_JSON_OBJECT = re.compile(JSON_OBJECT_LINE, re.DOTALL)
_BLANK = re.compile(BLANK_LINE)

Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


def _iso_time_with_offset(value: Any) -> datetime:
    if not isinstance(value, str) or not _ISO_TIME.fullmatch(value):
        raise ValueError("must be an ISO 8601 time with a UTC offset, like 2026-11-24T12:00:00+00:00")
    return datetime.fromisoformat(value)  # ValueError (a month 13, say) becomes a validation error


class _ScoresBase(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _sum_to_one(self) -> Self:
        total = sum(getattr(self, label) for label in LABELS)
        if abs(total - 1.0) > SCORES_SUM_TOLERANCE:
            raise ValueError(f"the 7 probabilities sum to {total:.6f}, not 1")
        return self


# One field per label, so a missing or an extra label is an error.
LabelScores = create_model(
    "LabelScores",
    __base__=_ScoresBase,
    **{label: (Probability, ...) for label in LABELS},  # type: ignore[call-overload]
)


class PredictionRecord(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    num: int = Field(gt=0, le=MAX_NUM)
    prediction_result: Emotion
    prediction_score: Probability
    prediction_scores: LabelScores  # type: ignore[valid-type]
    model_version: str = Field(min_length=1, max_length=MAX_MODEL_VERSION_CHARS)
    prediction_time: Annotated[AwareDatetime, BeforeValidator(_iso_time_with_offset)]
    run_id: str = Field(min_length=1, max_length=64)

    @model_validator(mode="after")
    def _score_is_the_labels(self) -> Self:
        expected = getattr(self.prediction_scores, self.prediction_result)
        if abs(self.prediction_score - expected) > SCORE_MATCH_TOLERANCE:
            raise ValueError(
                f"prediction_score {self.prediction_score} is not prediction_scores"
                f"[{self.prediction_result}] ({expected})"
            )
        return self

    def scores(self) -> dict[str, float]:
        return {label: getattr(self.prediction_scores, label) for label in LABELS}

    def utc_time(self) -> datetime:
        return self.prediction_time.astimezone(UTC)


def log_record(
    *,
    num: int,
    label: str,
    score: float,
    scores: dict[str, float],
    model_version: str,
    prediction_time: datetime,
    run_id: str,
) -> dict[str, Any]:
    """The JSON object of one log line, as the predict step writes it."""
    return {
        "num": num,
        "prediction_result": label,
        "prediction_score": score,
        "prediction_scores": {name: scores[name] for name in LABELS},
        "model_version": model_version,
        "prediction_time": prediction_time.astimezone(UTC).isoformat(timespec="microseconds"),
        "run_id": run_id,
    }


@dataclass(frozen=True, slots=True)
class QuarantinedLine:
    line_no: int
    line: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"line_no": self.line_no, "line": self.line, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ValidRecord:
    """A validated record, as it is written to ``comments``."""

    num: int
    prediction_result: str
    prediction_score: float
    prediction_scores: dict[str, float]
    model_version: str
    prediction_time: datetime  # aware UTC
    line_no: int


@dataclass
class ParsedLog:
    records: list[ValidRecord] = field(default_factory=list)  # newest per num, sorted by num
    quarantined: list[QuarantinedLine] = field(default_factory=list)
    valid_lines: int = 0  # before keeping the newest per num


def first_error(error: ValidationError) -> str:
    detail = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in detail["loc"]) or "line"
    return f"{where}: {detail['msg']}"


def check_line(line: str, run_id: str) -> PredictionRecord | str:
    """The record on ``line``, or the reason it is not a valid record of log ``run_id``."""
    if not _JSON_OBJECT.match(line):
        return "not a JSON object (truncated or garbage line)"
    try:
        record = PredictionRecord.model_validate_json(line)
    except ValidationError as error:
        return first_error(error)
    if record.run_id != run_id:
        return f"run_id: {record.run_id!r} is not this log's run id {run_id!r}"
    return record


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number from 1, text without the newline); bytes that are not UTF-8 become U+FFFD."""
    with open(path, "rb") as file:
        for line_no, raw in enumerate(file, start=1):
            yield line_no, raw.decode("utf-8", errors="replace").removesuffix("\n")


def parse_log(path: Path, run_id: str) -> ParsedLog:
    """Validate every line; keep the newest record per num (a later line wins a tie). The whole log in
    memory: the apply reads it with ``iter_log_chunks`` instead."""
    return next(iter_log_chunks(path, run_id, chunk_records=None))


def iter_log_chunks(path: Path, run_id: str, chunk_records: int | None) -> Iterator[ParsedLog]:
    """The log as consecutive chunks of ``chunk_records`` valid lines each (None: one chunk), so memory
    holds one chunk, however long the log. Each chunk keeps the newest record per num among its own
    lines (a later line wins a tie), sorted by num, and the lines it quarantined. At least one chunk
    (maybe empty) is given, and the last one holds the end of the file.

    A num may appear in two chunks of a log the predict step did not write itself: the apply's merge
    (only a newer ``prediction_time`` replaces a stored one) then keeps the newest across chunks too."""
    parsed = ParsedLog()
    newest: dict[int, ValidRecord] = {}
    for line_no, line in iter_lines(path):
        if _BLANK.match(line):
            continue
        checked = check_line(line, run_id)
        if isinstance(checked, str):
            parsed.quarantined.append(QuarantinedLine(line_no, line, checked))
            continue
        if chunk_records is not None and parsed.valid_lines == chunk_records:
            parsed.records = [newest[num] for num in sorted(newest)]
            yield parsed
            parsed, newest = ParsedLog(), {}
        parsed.valid_lines += 1
        when = checked.utc_time()
        kept = newest.get(checked.num)
        if kept is None or when >= kept.prediction_time:
            newest[checked.num] = ValidRecord(
                num=checked.num,
                prediction_result=checked.prediction_result,
                prediction_score=checked.prediction_score,
                prediction_scores=checked.scores(),
                model_version=checked.model_version,
                prediction_time=when,
                line_no=line_no,
            )
    parsed.records = [newest[num] for num in sorted(newest)]
    yield parsed
