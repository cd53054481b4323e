"""Tables. Column names of ``comments`` are the ones users and old data know: keep them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Computed,
    Double,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Mapped, declared_attr, mapped_column

from threekcal.db.types import UTCDateTime, utcnow
from threekcal.emotions import LABELS
from threekcal.validation import MAX_COMMENT_CHARS as MAX_COMMENT_CHARS  # re-exported: old imports
from threekcal.validation import MAX_REMARK_CHARS, MAX_USER_CHARS

# SQLite only autoincrements an INTEGER PRIMARY KEY; MariaDB gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")

LABEL_CHARS = 16
SOURCE_CHARS = 16
TOKEN_LABEL_CHARS = 100

# Where a label comes from (label provenance): picked by a person, a prediction accepted for one comment
# shown to the person, a bulk accept of predictions, an admin's decision on a disagreement.
LABEL_SOURCES = ("chosen", "accepted", "bulk_accepted", "resolved")
ROLES = ("admin", "annotator")


class Base(DeclarativeBase):
    pass


MARIADB_TABLE_OPTIONS = {
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
    "mysql_engine": "InnoDB",
}


def _stored_probability(label: str) -> Computed:
    # The database keeps one probability of prediction_scores as a plain column on every write, so the
    # statistics (ROC/PR curves) read numbers instead of parsing JSON per row. Same SQL on both backends.
    return Computed(f"json_extract(prediction_scores, '$.{label}')", persisted=True)


# Named here for db/queries.py, which tells MariaDB to read it for pages over a time range.
REQUEST_TIME_INDEX = "ix_comments_request_time"


class Comment(Base):
    __tablename__ = "comments"

    num: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    comments: Mapped[str] = mapped_column(Text, nullable=False)
    request_user: Mapped[str] = mapped_column(String(MAX_USER_CHARS), nullable=False)
    request_time: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    receipt: Mapped[str] = mapped_column(String(64), nullable=False)
    prediction_result: Mapped[str | None] = mapped_column(String(LABEL_CHARS))
    # Double: MariaDB's FLOAT is single precision and returns 6 digits, which breaks score cursors.
    prediction_score: Mapped[float | None] = mapped_column(Double)
    prediction_scores: Mapped[dict[str, float] | None] = mapped_column(JSON)
    prediction_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    model_version: Mapped[str | None] = mapped_column(String(255))
    label: Mapped[str | None] = mapped_column(String(LABEL_CHARS))
    remark: Mapped[str | None] = mapped_column(String(MAX_REMARK_CHARS))
    labeled_by: Mapped[str | None] = mapped_column(String(MAX_USER_CHARS))
    labeled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Migration 0004: the author as an account, where the label came from, and a counter of label
    # changes that the ETag/If-Match of the label is built on.
    labeled_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", name="fk_comments_labeled_by_id"), index=True
    )
    label_source: Mapped[str | None] = mapped_column(String(SOURCE_CHARS))
    label_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    # Migration 0006: labelled while served in the uniformly random audit queue (an unbiased sample).
    audit: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    score_anger: Mapped[float | None] = mapped_column(Double, _stored_probability("anger"))
    score_disgust: Mapped[float | None] = mapped_column(Double, _stored_probability("disgust"))
    score_fear: Mapped[float | None] = mapped_column(Double, _stored_probability("fear"))
    score_joy: Mapped[float | None] = mapped_column(Double, _stored_probability("joy"))
    score_neutral: Mapped[float | None] = mapped_column(Double, _stored_probability("neutral"))
    score_sadness: Mapped[float | None] = mapped_column(Double, _stored_probability("sadness"))
    score_surprise: Mapped[float | None] = mapped_column(Double, _stored_probability("surprise"))

    @property
    def reviewed(self) -> bool:
        return self.label is not None

    @property
    def label_etag(self) -> str:
        """The ETag of the label state (RFC 9110): it changes with every label change."""
        return f'"{self.num}-{self.label_version or 0}"'

    @classmethod
    def score_column(cls, label: str) -> InstrumentedAttribute[float | None]:
        """The stored probability column of ``label`` (one of LABELS)."""
        column: InstrumentedAttribute[float | None] = getattr(cls, f"score_{label}")
        return column

    # Indexes serve the list pages (db/queries.py list_comments), the StatsCache's data_version (max of
    # prediction_time) and the pipeline. The statistics read the aggregate tables (migration 0007), so
    # since 0008 no index is kept only for the full recomputation (db.stats_recompute.compute_stats, used
    # by the benchmark): every index costs each imported row a few microseconds.
    __table_args__ = (
        UniqueConstraint("receipt", name="uq_comments_receipt"),
        Index("ix_comments_request_user_num", "request_user", "num"),
        Index(REQUEST_TIME_INDEX, "request_time"),
        Index("ix_comments_prediction_result", "prediction_result", "prediction_score"),
        # The primary key follows the columns: label + prediction_result pages walk it in number order.
        Index("ix_comments_label", "label", "prediction_result"),
        Index("ix_comments_score_num", "prediction_score", "num"),
        Index("ix_comments_prediction_time", "prediction_time"),
        Index("ix_comments_label_source", "label_source", "label"),
        Index("ix_comments_audit", "audit", "label"),
        MARIADB_TABLE_OPTIONS,
    )


class LabelEvent(Base):
    """Audit of every label change: who, when, old -> new label and remark."""

    __tablename__ = "label_events"
    __table_args__ = (MARIADB_TABLE_OPTIONS,)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    num: Mapped[int] = mapped_column(
        BigId, ForeignKey("comments.num", ondelete="CASCADE"), nullable=False, index=True
    )
    action: Mapped[str] = mapped_column(String(16), nullable=False)  # set | accept | undo | resolve
    changed_by: Mapped[str] = mapped_column(String(MAX_USER_CHARS), nullable=False)
    changed_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", name="fk_label_events_changed_by_id"), index=True
    )
    label_source: Mapped[str | None] = mapped_column(String(SOURCE_CHARS))  # of new_label
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    old_label: Mapped[str | None] = mapped_column(String(LABEL_CHARS))
    new_label: Mapped[str | None] = mapped_column(String(LABEL_CHARS))
    old_remark: Mapped[str | None] = mapped_column(String(MAX_REMARK_CHARS))
    new_remark: Mapped[str | None] = mapped_column(String(MAX_REMARK_CHARS))


class User(Base):
    """A person (or the built-in service account ``admin``) who signs in and labels."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("username", name="uq_users_username"), MARIADB_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(MAX_USER_CHARS), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)  # admin | annotator
    password_hash: Mapped[str | None] = mapped_column(String(255))  # None: cannot log in with a password
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiToken(Base):
    """A personal API token; only its SHA-256 is stored, the token itself is shown once."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"), MARIADB_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    label: Mapped[str | None] = mapped_column(String(TOKEN_LABEL_CHARS))
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Judgement(Base):
    """One person's label of one comment when several annotators label each comment."""

    __tablename__ = "judgements"
    __table_args__ = (
        UniqueConstraint("num", "user_id", name="uq_judgements_num_user"),
        MARIADB_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    num: Mapped[int] = mapped_column(
        BigId, ForeignKey("comments.num", ondelete="CASCADE"), nullable=False, index=True
    )
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"), nullable=False, index=True)
    label: Mapped[str] = mapped_column(String(LABEL_CHARS), nullable=False)
    remark: Mapped[str | None] = mapped_column(String(MAX_REMARK_CHARS))
    judged_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class PredictionBatch(Base):
    """One prediction log file and its fate; ``applied_at`` set in the same transaction as the updates."""

    __tablename__ = "prediction_batches"
    __table_args__ = (MARIADB_TABLE_OPTIONS,)

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    log_path: Mapped[str] = mapped_column(String(1024), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="predict")  # predict | backfill
    model_version: Mapped[str | None] = mapped_column(String(255))
    records: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    predict_seconds: Mapped[float | None] = mapped_column(Float)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    applied_rows: Mapped[int | None] = mapped_column(Integer)
    unknown_nums: Mapped[int | None] = mapped_column(Integer)
    quarantined: Mapped[int | None] = mapped_column(Integer)
    apply_seconds: Mapped[float | None] = mapped_column(Float)
    engine: Mapped[str | None] = mapped_column(String(16))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    # The pending comments this log claims until it is applied (migration 0002).
    num_min: Mapped[int | None] = mapped_column(BigId)
    num_max: Mapped[int | None] = mapped_column(BigId)


class PredictionStaging(Base):
    """Deduplicated records of one log on their way into ``comments`` (Spark apply; migration 0002)."""

    __tablename__ = "prediction_staging"
    __table_args__ = (MARIADB_TABLE_OPTIONS,)

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    num: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    prediction_result: Mapped[str] = mapped_column(String(LABEL_CHARS), nullable=False)
    prediction_score: Mapped[float] = mapped_column(Double, nullable=False)
    prediction_scores: Mapped[dict[str, float]] = mapped_column(JSON, nullable=False)
    prediction_time: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    model_version: Mapped[str] = mapped_column(String(255), nullable=False)


class IdempotencyKey(Base):
    """An Idempotency-Key of POST /comments, stored in the same transaction as the comment it made.

    The key is kept as its SHA-256 (fixed width, and exact: MariaDB's collation would fold case), the
    request as the SHA-256 of its validated body; rows older than the replay window are pruned.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (MARIADB_TABLE_OPTIONS,)

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    num: Mapped[int] = mapped_column(BigId, ForeignKey("comments.num", ondelete="CASCADE"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)


MODEL_STATUSES = ("candidate", "active", "retired")
JOB_STATES = ("queued", "running", "succeeded", "failed")
JOB_KINDS = ("train", "rescore")


class ModelVersion(Base):
    """One model in the registry (migration 0005): where it is, where it came from, how it measured."""

    __tablename__ = "model_versions"
    __table_args__ = (Index("ix_model_versions_status", "status", "promoted_at"), MARIADB_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(1024), nullable=False)  # model directory or hub id
    tag: Mapped[str | None] = mapped_column(String(255))  # ``name@revision`` as predictions record it
    parent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("model_versions.id", ondelete="SET NULL"))
    created_by: Mapped[str] = mapped_column(String(MAX_USER_CHARS), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    training_data_hash: Mapped[str | None] = mapped_column(String(64))
    training_data_size: Mapped[int | None] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="candidate")
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TrainingJob(Base):
    """A queued piece of model work (train, or re-score with the active model), run by the worker or
    Airflow, never by the API process."""

    __tablename__ = "training_jobs"
    __table_args__ = (Index("ix_training_jobs_state", "state", "id"), MARIADB_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="train")
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    progress: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    log_tail: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(MAX_USER_CHARS), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result_version_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("model_versions.id"))


class RegistryEvent(Base):
    """Audit of every registry action (register, promote, rollback, queue, ...) and its author."""

    __tablename__ = "registry_events"
    __table_args__ = (MARIADB_TABLE_OPTIONS,)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    version_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("model_versions.id"))
    job_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("training_jobs.id"))
    author: Mapped[str] = mapped_column(String(MAX_USER_CHARS), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# Migration 0007: statistics kept as counts (db/aggregates.py holds every rule of how a write changes them).
# ``scope`` is "" for all comments, else the request_user: every comment counts in both. Missing values
# (no prediction, no label source, no model version) are stored as "" so that every key is a primary key.
SCOPE_CHARS = MAX_USER_CHARS
MODEL_VERSION_CHARS = 255
# SQLite (migration 0010): each aggregate table is one B-tree ordered by its key, as InnoDB's are, instead
# of a rowid table and an index of its key: a new cell is written once.
STATS_TABLE_OPTIONS = {**MARIADB_TABLE_OPTIONS, "sqlite_with_rowid": False}


def _count() -> Mapped[int]:
    return mapped_column(BigInteger, nullable=False, default=0, server_default="0")


class PredictedCounts:
    """Mixin: a count column ``predicted_<label>`` for each label of LABELS, in LABELS' order, after the
    class's own columns (comments the model gave that label). Declared once for stats_hourly and
    stats_model_hourly; db/aggregates.py writes the counts in that order."""


for _label in LABELS:  # declared_attr: each table gets its own Column object
    setattr(PredictedCounts, f"predicted_{_label}", declared_attr(lambda cls: _count()))


class StatsHourly(PredictedCounts, Base):
    """Comments per UTC hour (hours since 1970-01-01 00:00 UTC): one wide row per scope and hour, so a
    year of "Over time" is 8,760 rows to sum whatever the number of comments."""

    __tablename__ = "stats_hourly"
    __table_args__ = (STATS_TABLE_OPTIONS,)

    scope: Mapped[str] = mapped_column(String(SCOPE_CHARS), primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    total: Mapped[int] = _count()
    pending: Mapped[int] = _count()  # no prediction yet
    labeled: Mapped[int] = _count()
    scored: Mapped[int] = _count()  # labelled and predicted
    correct: Mapped[int] = _count()  # label == prediction
    audit_scored: Mapped[int] = _count()
    audit_correct: Mapped[int] = _count()


class StatsModelHourly(PredictedCounts, Base):
    """Predicted comments (all users) per UTC hour and model version, one column per predicted label."""

    __tablename__ = "stats_model_hourly"
    __table_args__ = (STATS_TABLE_OPTIONS,)

    hour: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    model_version: Mapped[str] = mapped_column(String(MODEL_VERSION_CHARS), primary_key=True)


class StatsUser(Base):
    """All-time counts per submitting user (the per-user table of the statistics page)."""

    __tablename__ = "stats_users"
    __table_args__ = (Index("ix_stats_users_total", "total"), STATS_TABLE_OPTIONS)

    request_user: Mapped[str] = mapped_column(String(MAX_USER_CHARS), primary_key=True)
    total: Mapped[int] = _count()
    labeled: Mapped[int] = _count()
    scored: Mapped[int] = _count()
    correct: Mapped[int] = _count()


class StatsLabel(Base):
    """Labelled comments per label source, audit flag, true label, predicted label and confidence bin
    (10 bins; -1: no prediction score): the confusion matrix, calibration, audit accuracy, sources."""

    __tablename__ = "stats_labels"
    __table_args__ = (STATS_TABLE_OPTIONS,)

    scope: Mapped[str] = mapped_column(String(SCOPE_CHARS), primary_key=True)
    label_source: Mapped[str] = mapped_column(String(SOURCE_CHARS), primary_key=True)
    audit: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    label: Mapped[str] = mapped_column(String(LABEL_CHARS), primary_key=True)
    prediction: Mapped[str] = mapped_column(String(LABEL_CHARS), primary_key=True)
    bin: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = _count()
    confidence_nano: Mapped[int] = _count()  # sum of floor(prediction_score * 1e9): exact integers


class StatsScore(Base):
    """Predicted comments per predicted label and prediction_score bin (20 bins): the score histogram."""

    __tablename__ = "stats_scores"
    __table_args__ = (STATS_TABLE_OPTIONS,)

    scope: Mapped[str] = mapped_column(String(SCOPE_CHARS), primary_key=True)
    prediction: Mapped[str] = mapped_column(String(LABEL_CHARS), primary_key=True)
    bin: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = _count()


class StatsCurve(Base):
    """Scored comments per label source, label and bin (51) of that label's probability: ROC/PR curves."""

    __tablename__ = "stats_curves"
    __table_args__ = (STATS_TABLE_OPTIONS,)

    scope: Mapped[str] = mapped_column(String(SCOPE_CHARS), primary_key=True)
    label_source: Mapped[str] = mapped_column(String(SOURCE_CHARS), primary_key=True)
    curve_label: Mapped[str] = mapped_column(String(LABEL_CHARS), primary_key=True)
    bin: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = _count()
    positives: Mapped[int] = _count()
