"""The statistics aggregates always equal a recomputation from the rows (SQLite and MariaDB).

Random sequences of inserts, predictions, re-predictions, late logs, backfills, crashes mid-apply,
labels, undos, accepts, audit labels and deletes; after each sequence ``verify`` finds no difference and
the statistics read from the aggregates equal the full recomputation ``stats_recompute.compute_stats``."""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from scipy.stats import binomtest
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from threekcal.cli import app
from threekcal.db import aggregates, aggregates_check, idempotency, labels, queries, stats, stats_recompute
from threekcal.db.models import Comment, StatsHourly, User
from threekcal.db.session import engine_for, session_factory
from threekcal.emotions import LABELS
from threekcal.pipeline import batches
from threekcal.pipeline.apply_local import apply_batch_local
from threekcal.pipeline.checkpoints import APPLY_BEFORE_COMMIT, APPLY_CHUNK_COMMITTED
from threekcal.pipeline.records import log_record
from threekcal.settings import Settings, get_settings

USERS = ("ana", "bo", "chen")
MODELS = ("m@1", "m@2")


class Crash(RuntimeError):
    pass


class World:
    """The product's write paths, driven by a seeded random generator."""

    def __init__(self, settings: Settings, rng: random.Random) -> None:
        self.settings = settings
        self.rng = rng
        self.url = settings.database_url
        self.clock = datetime(2026, 3, 1, 12, tzinfo=UTC)
        self.runs = 0
        with self.session() as session:
            self.people = []
            for name in ("ann", "ben"):
                user = User(username=name, role="annotator")
                session.add(user)
                session.flush()
                self.people.append(user)
            session.commit()

    def session(self) -> Session:
        return session_factory(self.url)()

    def nums(self) -> list[int]:
        with engine_for(self.url).connect() as connection:
            return list(connection.scalars(select(Comment.num).order_by(Comment.num)))

    def insert(self) -> None:
        user = self.rng.choice(USERS)
        with self.session() as session:
            if self.rng.random() < 0.3:
                index = self.rng.randrange(5)
                key, user = f"k{index}", USERS[index % len(USERS)]  # a retry repeats the same request
                idempotency.insert_comment_once(
                    session, request_user=user, text=f"t {key}", key=key, window=timedelta(days=1)
                )
            else:
                queries.insert_comment(session, request_user=user, text="hello")

    def predict(self, kind: str = "predict", crash: str | None = None, late: bool = False) -> None:
        nums = self.nums()
        if not nums:
            return
        chosen = sorted(self.rng.sample(nums, self.rng.randint(1, len(nums))))
        self.runs += 1
        run_id = f"run{self.runs}"
        self.clock += timedelta(minutes=7)
        when = self.clock - timedelta(days=30) if late else self.clock
        lines = []
        for num in chosen:
            weights = [self.rng.random() for _ in LABELS]
            if self.rng.random() < 0.2:
                weights[LABELS.index("disgust")] = 0.0  # zero-support and zero-prediction classes
            total = sum(weights) or 1.0
            scores = {label: w / total for label, w in zip(LABELS, weights, strict=True)}
            best = max(scores, key=scores.__getitem__)
            model = self.rng.choice(MODELS)
            record = log_record(num=num, label=best, score=scores[best], scores=scores,
                                model_version=model, prediction_time=when, run_id=run_id)  # fmt: skip
            lines.append(json.dumps(record))
        relpath = f"date=2026-03-01/{run_id}.jsonl"
        path = Path(self.settings.log_dir) / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        batches.register_batch(
            self.url, run_id=run_id, log_path=relpath, kind=kind, model_version="m@1", records=len(lines),
            num_min=chosen[0], num_max=chosen[-1], created_at=self.clock, predict_seconds=0.1,
        )  # fmt: skip

        def checkpoint(point: str) -> None:
            if point == crash:
                raise Crash(point)

        with engine_for(self.url).connect() as connection:
            batch = batches.get_batch(connection, run_id)
        assert batch is not None
        try:
            apply_batch_local(self.settings, batch, chunk_size=3, checkpoint=checkpoint)
        except Crash:
            with engine_for(self.url).connect() as connection:
                batch = batches.get_batch(connection, run_id)
            assert batch is not None
            apply_batch_local(self.settings, batch, chunk_size=3)  # the next run resumes

    def label(self) -> None:
        nums = self.nums()
        if not nums:
            return
        num = self.rng.choice(nums)
        by = self.rng.choice(self.people)
        with self.session() as session:
            comment = session.get(Comment, num)
            assert comment is not None
            action = self.rng.random()
            try:
                if action < 0.15 and comment.prediction_result:
                    labels.set_label(session, num, label=comment.prediction_result, by=by, source="accepted")
                elif action < 0.25:
                    labels.set_label(session, num, label=None, by=by)
                else:
                    labels.set_label(session, num, label=self.rng.choice(LABELS), by=by)
                if self.rng.random() < 0.3:  # served from the audit queue
                    if self.rng.random() < 0.5:  # an ORM bulk UPDATE
                        session.execute(update(Comment).where(Comment.num == num).values(audit=True))
                    else:  # a change of a loaded object
                        audited = session.get(Comment, num, populate_existing=True)
                        assert audited is not None
                        audited.audit = not audited.audit
                    session.commit()
            except labels.LabelConflictError:
                pass

    def undo(self) -> None:
        by = self.rng.choice(self.people)
        with self.session() as session, contextlib.suppress(labels.NothingToUndoError):
            labels.undo(session, None, by=by)

    def accept(self) -> None:
        nums = self.nums()
        if not nums:
            return
        with self.session() as session:
            labels.accept_predictions(
                session, self.rng.sample(nums, min(len(nums), 4)), by=self.people[0],
                overwrite=self.rng.random() < 0.5,
            )  # fmt: skip

    def delete(self) -> None:
        nums = self.nums()
        if not nums:
            return
        with self.session() as session:
            comment = session.get(Comment, self.rng.choice(nums))
            session.delete(comment)
            session.commit()

    def step(self) -> None:
        choice = self.rng.random()
        if choice < 0.35:
            self.insert()
        elif choice < 0.45:
            self.predict()
        elif choice < 0.50:
            self.predict(kind="backfill")
        elif choice < 0.53:
            self.predict(late=True)
        elif choice < 0.56:
            self.predict(crash=APPLY_CHUNK_COMMITTED)
        elif choice < 0.59:
            self.predict(crash=APPLY_BEFORE_COMMIT)
        elif choice < 0.80:
            self.label()
        elif choice < 0.88:
            self.undo()
        elif choice < 0.96:
            self.accept()
        else:
            self.delete()


def _comparable(result: dict[str, Any]) -> dict[str, Any]:
    keep = ("counts", "confusion_matrix", "accuracy", "per_class", "macro_avg", "weighted_avg",
            "score_histogram", "curves", "per_user")  # fmt: skip
    figures = {name: result[name] for name in keep}
    figures["timeline"] = [
        {k: day[k] for k in ("day", "total", "by_prediction")} for day in result["timeline"]
    ]
    calibration = dict(result["calibration"])
    calibration["mean_confidence"] = [
        None if v is None else round(v, 6) for v in calibration["mean_confidence"]
    ]
    calibration["ece"] = None if calibration["ece"] is None else round(calibration["ece"], 6)
    figures["calibration"] = calibration
    return json.loads(json.dumps(figures, sort_keys=True))


def _assert_consistent(url: str) -> None:
    with engine_for(url).connect() as connection:
        assert [d.describe() for d in aggregates_check.differences(connection)] == []
    with session_factory(url)() as session:
        for scope in (stats.ALL, stats.StatsScope("ana"), stats.StatsScope(None, ("chosen", "accepted"))):
            assert _comparable(stats.stats_from_aggregates(session, scope)) == _comparable(
                stats_recompute.compute_stats(session, scope)
            )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_writes_keep_the_aggregates_equal_to_a_recomputation(settings: Settings, seed: int) -> None:
    world = World(settings, random.Random(seed))
    for _ in range(60):
        world.step()
    _assert_consistent(settings.database_url)


@pytest.fixture
def cli_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The CLI reads THREEKCAL_DATABASE_URL through the cached get_settings()."""
    monkeypatch.setenv("THREEKCAL_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def test_verify_finds_a_manual_change_and_rebuild_fixes_it(cli_settings: Settings) -> None:
    settings = cli_settings
    world = World(settings, random.Random(7))
    for _ in range(25):
        world.step()
    world.insert()
    runner = CliRunner()
    assert runner.invoke(app, ["stats", "verify"]).exit_code == 0
    with engine_for(settings.database_url).begin() as connection:
        connection.execute(update(Comment).where(Comment.num == world.nums()[-1]).values(request_user="zed"))
    result = runner.invoke(app, ["stats", "verify"])
    assert result.exit_code == 1, result.output
    assert "stats_users (request_user='zed'): total: 0 != 1" in result.output
    rebuilt = runner.invoke(app, ["stats", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert runner.invoke(app, ["stats", "verify"]).exit_code == 0
    _assert_consistent(settings.database_url)


def test_days_follow_the_viewers_time_zone(db_url: str) -> None:
    engine = engine_for(db_url)
    times = [
        datetime(2026, 3, 1, 14, 30, tzinfo=UTC),  # Seoul: 23:30 on the 1st
        datetime(2026, 3, 1, 15, 10, tzinfo=UTC),  # Seoul: 00:10 on the 2nd
        datetime(2026, 3, 2, 4, 0, tzinfo=UTC),  # Los Angeles: 20:00 on the 1st
    ]
    with engine.begin() as connection:
        for i, moment in enumerate(times):
            values = {"comments": "x", "request_user": "ana", "request_time": moment, "receipt": f"r{i}"}
            connection.execute(Comment.__table__.insert(), values)
            aggregates.add_comments(connection, [values])
    with session_factory(db_url)() as session:

        def days(tz: str) -> dict[str, int]:
            result = stats.daily_from_aggregates(session, stats.StatsScope(tz=tz))
            return {day["day"]: day["total"] for day in result["days"]}

        assert days("UTC") == {"2026-03-01": 2, "2026-03-02": 1}
        assert days("Asia/Seoul") == {"2026-03-01": 1, "2026-03-02": 2}
        assert days("America/Los_Angeles") == {"2026-03-01": 3}
        window = stats.daily_from_aggregates(session, stats.StatsScope(tz="Asia/Seoul"), since="2026-03-02")
        assert [day["day"] for day in window["days"]] == ["2026-03-02"]
        with pytest.raises(stats.UnknownTimeZoneError, match="Unknown time zone: Mars/Olympus"):
            stats.time_zone("Mars/Olympus")


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/St_Johns", "Asia/Kathmandu", "Australia/Lord_Howe"])
def test_days_across_offset_changes_are_sums_of_utc_hours(db_url: str, tz: str) -> None:
    """Every 53 minutes over two DST changes: the database's grouping equals local_day of each hour."""
    moments = [datetime(2026, 3, 20, tzinfo=UTC) + timedelta(minutes=53 * i) for i in range(2000)]
    with engine_for(db_url).begin() as connection:
        aggregates.add_comments(connection, [{"request_user": "ana", "request_time": m} for m in moments])
    zone = stats.time_zone(tz)
    expected: dict[str, int] = {}
    for moment in moments:
        day = stats.local_day(aggregates.hour_of(moment), zone)
        expected[day] = expected.get(day, 0) + 1
    with session_factory(db_url)() as session:
        for scope in (stats.StatsScope(tz=tz), stats.StatsScope("ana", tz=tz)):
            got = {day["day"]: day["total"] for day in stats.daily_from_aggregates(session, scope)["days"]}
            assert got == expected
    whole_hours = "Europe/Berlin"
    if tz == whole_hours:  # exact local days for whole-hour offsets
        exact: dict[str, int] = {}
        for moment in moments:
            day = moment.astimezone(zone).date().isoformat()
            exact[day] = exact.get(day, 0) + 1
        assert expected == exact


@pytest.mark.parametrize(("correct", "n"), [(0, 1), (1, 1), (7, 10), (29, 40), (500, 1000)])
def test_wilson_interval_equals_scipys(correct: int, n: int) -> None:
    interval = binomtest(correct, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert stats.wilson_interval(correct, n) == pytest.approx((interval.low, interval.high), abs=1e-12)
    assert stats.wilson_interval(0, 0) is None


def test_audit_accuracy_and_zero_support_classes(db_url: str) -> None:
    engine = engine_for(db_url)
    rows = []
    for i, (label, predicted, audit) in enumerate(
        [("joy", "joy", True), ("joy", "anger", True), ("anger", "anger", True), ("fear", "fear", False)]
    ):
        scores = {name: (0.6 if name == predicted else 0.4 / 6) for name in LABELS}
        rows.append({
            "comments": "x", "request_user": "ana", "request_time": datetime(2026, 3, 1, tzinfo=UTC),
            "receipt": f"r{i}", "prediction_result": predicted, "prediction_score": 0.6,
            "prediction_scores": scores, "model_version": "m@1", "label": label, "label_source": "chosen",
            "audit": audit,
        })  # fmt: skip
    with engine.begin() as connection:
        connection.execute(Comment.__table__.insert(), rows)
        aggregates.add_comments(connection, rows)
    with session_factory(db_url)() as session:
        result = stats.stats_from_aggregates(session)
    interval = binomtest(2, 3).proportion_ci(confidence_level=0.95, method="wilson")
    assert result["audit"]["n"] == 3
    assert result["audit"]["correct"] == 2
    assert result["audit"]["accuracy"] == pytest.approx(2 / 3)
    assert (result["audit"]["ci_low"], result["audit"]["ci_high"]) == pytest.approx(
        (interval.low, interval.high)
    )
    assert result["supported_labels"] == ["anger", "fear", "joy"]
    assert result["unsupported_labels"] == ["disgust", "neutral", "sadness", "surprise"]
    per_class = {row["label"]: row for row in result["per_class"]}
    supported_f1 = [per_class[label]["f1"] for label in ("anger", "fear", "joy")]
    assert result["macro_avg_supported"]["f1"] == pytest.approx(sum(supported_f1) / 3)
    assert result["timeline"][0]["by_model"] == {"m@1": {"joy": 1, "anger": 2, "fear": 1}}
    assert (result["timeline"][0]["scored"], result["timeline"][0]["correct"]) == (4, 3)


def test_hourly_counts_are_keyed_by_utc_hour(db_url: str) -> None:
    with engine_for(db_url).begin() as connection:
        values = {"request_user": "ana", "request_time": datetime(1970, 1, 2, 1, 59, tzinfo=UTC)}
        aggregates.add_comments(connection, [values])
        hours = list(connection.scalars(select(StatsHourly.hour).where(StatsHourly.scope == "")))
    assert hours == [25]


@pytest.mark.parametrize("selected_by", ["range", "receipts"])
def test_new_comments_counted_by_the_database_are_counted_as_add_comments_counts_them(
    db_url: str, selected_by: str
) -> None:
    """add_comment_range and add_comment_receipts (the import's GROUP BYs) count what contributions()
    counts: every kind of row, hours before 1970 and within an hour's last microsecond, scores on bin
    edges, users differing only in case, curves; and only the comments selected."""
    rng = random.Random(5)
    rows = []
    for i in range(400):
        predicted = rng.choice([None, *LABELS, "other"])
        label = rng.choice([None, None, *LABELS])
        score = None if predicted is None else rng.choice([0.0, 0.05, 0.1, 0.95, 1.0, rng.random()])
        scores = None
        if predicted is not None and rng.random() < 0.5:
            scores = {name: rng.choice([0.0, 0.02, 0.5, 1.0, rng.random()]) for name in LABELS}
        when = datetime(1969, 12, 31, 22, tzinfo=UTC) + timedelta(minutes=rng.randrange(240))
        if i % 7 == 0:
            when = when.replace(minute=59, second=59, microsecond=999_999)
        rows.append({
            "receipt": f"range-{i}", "comments": f"text {i}",
            "request_user": rng.choice(["ana", "Ana", "bo", "cy"]),
            "request_time": when, "prediction_result": predicted, "prediction_score": score,
            "prediction_scores": scores, "model_version": rng.choice([None, "m@1", "m@2"]),
            "label": label, "audit": label is not None and rng.random() < 0.3,
            "label_source": None if label is None else rng.choice([None, "chosen", "accepted"]),
        })  # fmt: skip
    earlier = [{**row, "receipt": f"earlier-{i}"} for i, row in enumerate(rows[:20])]
    with engine_for(db_url).begin() as connection:
        connection.execute(insert(Comment.__table__), earlier)
        aggregates.add_comments(connection, earlier)
        connection.execute(insert(Comment.__table__), rows)
        first, last = connection.execute(
            select(func.min(Comment.num), func.max(Comment.num)).where(Comment.receipt.like("range-%"))
        ).one()
        if selected_by == "range":
            aggregates.add_comment_range(connection, first, last)
        else:
            aggregates.add_comment_receipts(connection, [row["receipt"] for row in rows])
    with engine_for(db_url).connect() as connection:
        assert [d.describe() for d in aggregates_check.differences(connection)] == []
        counted = select(func.sum(StatsHourly.total)).where(StatsHourly.scope == "")
        assert connection.scalar(counted) == len(earlier) + len(rows)  # each once
