"""The Spark engine of the apply step: same rules, same result as the local engine, row for row.

Per log: read its lines (``lineSep`` newline only, so line numbers match the local engine's), parse
them with ``from_json`` and an explicit schema, check every rule of ``records`` as a Spark
expression (plus what Spark's lenient JSON parser lets through: trailing text, a number where a
string belongs, checked with Spark's strict ``try_parse_json``), keep the newest record per num with a
window, write them to ``prediction_staging`` (JDBC with MariaDB Connector/J from the executors; from the
driver on SQLite, which is a local file and has no JDBC driver here) and merge the staging rows into
``comments`` in one transaction that also deletes them and marks the batch applied.

Only Spark SQL runs on the executors (no Python UDF): they need nothing of ThreeKcal, no Python
packages, just the log file at the path Spark is given (``THREEKCAL_SPARK_LOG_URI``) and the JDBC jar,
which Spark ships with the job.

A crash before that transaction commits leaves staging rows of this run id and nothing else: the
next attempt deletes them first. The merge uses the same statement as the local engine.
"""

from __future__ import annotations

import logging
import time
from itertools import islice
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete

from threekcal.db.session import engine_for, is_sqlite
from threekcal.emotions import LABELS
from threekcal.pipeline import logfiles
from threekcal.pipeline.batches import BatchRow
from threekcal.pipeline.checkpoints import APPLY_BEFORE_COMMIT, Checkpoint, no_checkpoint
from threekcal.pipeline.merge import (
    UNKNOWN_SAMPLE,
    BatchResult,
    mark_applied,
    merge_predictions,
    staging,
    unknown_nums_query,
)
from threekcal.pipeline.records import (
    BLANK_LINE,
    ISO_TIME_WITH_OFFSET,
    MAX_MODEL_VERSION_CHARS,
    SCORE_MATCH_TOLERANCE,
    SCORES_SUM_TOLERANCE,
    STRING_FIELDS,
    QuarantinedLine,
)
from threekcal.pipeline.sparksession import MARIADB_JDBC_JAR, jdbc_jar, jdbc_options
from threekcal.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

logger = logging.getLogger(__name__)

STAGING_COLUMNS = [column.name for column in staging.columns]
DRIVER_INSERT_ROWS = 5_000  # rows per INSERT batch when the driver writes the staging table (SQLite)
TIME_FORMAT = "yyyy-MM-dd HH:mm:ss.SSSSSS"  # the local engine's ``time_text``
JSON_OPTIONS = {
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": "_corrupt_record",
    "allowSingleQuotes": "false",
}


def record_schema() -> Any:
    from pyspark.sql import types as T

    return T.StructType(
        [
            T.StructField("num", T.LongType()),
            T.StructField("prediction_result", T.StringType()),
            T.StructField("prediction_score", T.DoubleType()),
            T.StructField("prediction_scores", T.MapType(T.StringType(), T.DoubleType())),
            T.StructField("model_version", T.StringType()),
            T.StructField("prediction_time", T.StringType()),
            T.StructField("run_id", T.StringType()),
            T.StructField("_corrupt_record", T.StringType()),
        ]
    )


def _java_full_match(pattern: str) -> str:
    # Python's fullmatch: Java's "$" also matches before a final line break, "\z" does not.
    return pattern.removesuffix("$") + r"\z"


def shape_problem_column() -> Column:
    """What Spark's ``from_json`` accepts but the local engine's strict parser rejects, or null.

    ``[`` + line + ``]`` parsed strictly (``try_parse_json``) must be an array of exactly one object:
    trailing text or a second value on the line fails that, as it fails the local engine.
    """
    from pyspark.sql import functions as F

    wrapped = "w"  # try_parse_json(concat('[', value, ']')), added by checked_lines

    def schema(path: str) -> Column:
        return F.expr(f"schema_of_variant(variant_get({wrapped}, '{path}', 'variant'))")

    rules: list[tuple[Column, str]] = [
        (
            F.col(wrapped).isNull() | F.expr(f"variant_get({wrapped}, '$[1]', 'variant') IS NOT NULL"),
            "line: Invalid JSON (not exactly one JSON value on the line)",
        ),
        (~schema("$[0]").startswith("OBJECT"), "not a JSON object (truncated or garbage line)"),
        *[
            (~schema(f"$[0].{key}").isin("STRING", "VOID"), f"{key}: Input should be a valid string")
            for key in STRING_FIELDS
        ],
    ]
    problem = F.lit(None).cast("string")
    for condition, text in reversed(rules):
        problem = F.when(F.coalesce(condition, F.lit(False)), F.lit(text)).otherwise(problem)
    return problem


def reason_column(run_id: str) -> Column:
    """The first broken rule of a line as text, or null for a valid record (column ``r``: parsed)."""
    from pyspark.sql import functions as F

    def in_unit(column: Column) -> Column:
        return column.isNotNull() & ~F.isnan(column) & (column >= 0) & (column <= 1)

    def is_false(condition: Column) -> Column:
        return ~F.coalesce(condition, F.lit(False))

    r = F.col("r")
    scores = r.prediction_scores
    scores_sum = sum((scores[label] for label in LABELS[1:]), scores[LABELS[0]])
    label_keys = F.array(*[F.lit(label) for label in sorted(LABELS)])
    length = F.length(r.model_version)
    shape = shape_problem_column()
    rules: list[tuple[Column, Column]] = [
        (r.isNull() | r._corrupt_record.isNotNull(), F.lit("line: Invalid JSON for a prediction record")),
        (shape.isNotNull(), shape),
        (r.num.isNull() | (r.num <= 0), F.lit("num: must be an integer greater than 0")),
        (is_false(r.prediction_result.isin(*LABELS)), F.lit("prediction_result: not one of the 7 labels")),
        (is_false(in_unit(r.prediction_score)), F.lit("prediction_score: must be within [0, 1]")),
        (
            scores.isNull()
            | (F.size(scores) != len(LABELS))
            | (F.array_sort(F.map_keys(scores)) != label_keys),
            F.lit("prediction_scores: must have exactly the 7 labels"),
        ),
        (
            F.exists(F.map_values(scores), lambda value: ~in_unit(value)),
            F.lit("prediction_scores: every probability must be within [0, 1]"),
        ),
        (
            F.abs(scores_sum - 1.0) > SCORES_SUM_TOLERANCE,
            F.lit("prediction_scores: the 7 probabilities do not sum to 1"),
        ),
        (
            r.model_version.isNull() | (length < 1) | (length > MAX_MODEL_VERSION_CHARS),
            F.lit(f"model_version: must be 1 to {MAX_MODEL_VERSION_CHARS} characters"),
        ),
        (
            is_false(r.prediction_time.rlike(_java_full_match(ISO_TIME_WITH_OFFSET))) | F.col("ts").isNull(),
            F.lit("prediction_time: must be an ISO 8601 time with a UTC offset"),
        ),
        (
            F.abs(r.prediction_score - F.element_at(scores, r.prediction_result)) > SCORE_MATCH_TOLERANCE,
            F.lit("line: prediction_score is not prediction_scores[prediction_result]"),
        ),
        (is_false(r.run_id == F.lit(run_id)), F.lit(f"run_id: not this log's run id {run_id!r}")),
    ]
    reason = F.lit(None).cast("string")
    for condition, text in reversed(rules):  # the first broken rule wins; a null condition is broken
        reason = F.when(F.coalesce(condition, F.lit(True)), text).otherwise(reason)
    return reason


def checked_lines(spark: SparkSession, path: str, run_id: str) -> DataFrame:
    """Every non-blank line with its number, parsed record ``r``, UTC time ``ts`` and ``reason``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    lines = spark.read.option("lineSep", "\n").text(path)
    numbered = lines.withColumn(
        "line_no", F.row_number().over(Window.orderBy(F.monotonically_increasing_id()))
    ).filter(~F.col("value").rlike(BLANK_LINE))
    parsed = (
        numbered.withColumn("r", F.from_json("value", record_schema(), JSON_OPTIONS))
        .withColumn("ts", F.col("r.prediction_time").try_cast("timestamp"))
        .withColumn("w", F.expr("try_parse_json(concat('[', value, ']'))"))
    )
    return parsed.withColumn("reason", reason_column(run_id))


def newest_per_num(valid: DataFrame, run_id: str) -> DataFrame:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    newest_first = Window.partitionBy("num").orderBy(F.col("ts").desc(), F.col("line_no").desc())
    return (
        valid.select("line_no", "ts", "r.*")
        .withColumn("rank", F.row_number().over(newest_first))
        .filter(F.col("rank") == 1)
        .select(
            F.lit(run_id).alias("run_id"),
            "num",
            "prediction_result",
            "prediction_score",
            F.to_json("prediction_scores").alias("prediction_scores"),
            F.date_format("ts", TIME_FORMAT).alias("prediction_time"),
            "model_version",
        )
    )


def _insert_from_driver(frame: DataFrame, database_url: str) -> None:
    """Stream the rows to the driver and insert them there, a batch at a time, in one transaction."""
    columns = ", ".join(STAGING_COLUMNS)
    rows = (tuple(row) for row in frame.select(*STAGING_COLUMNS).toLocalIterator())
    with engine_for(database_url).begin() as connection:
        marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        values = ", ".join([marker] * len(STAGING_COLUMNS))
        statement = f"INSERT INTO prediction_staging ({columns}) VALUES ({values})"
        while batch := list(islice(rows, DRIVER_INSERT_ROWS)):
            connection.exec_driver_sql(statement, batch)


STAGING_WRITE_JDBC = "jdbc"
STAGING_WRITE_DRIVER = "driver-inserts"


def write_staging(frame: DataFrame, database_url: str) -> str:
    """JDBC from the executors where it fits (MariaDB with Connector/J); from the driver otherwise.

    Returns the write path taken; it is recorded in the batch's ``details`` (``staging_write``), and a
    fallback on MariaDB (the jar is missing) is logged as a warning, so it is never silent.
    """
    if is_sqlite(database_url):
        _insert_from_driver(frame, database_url)
        return STAGING_WRITE_DRIVER
    if jdbc_jar() is None:
        logger.warning(
            "MariaDB Connector/J is not installed (%s): the driver writes the staging rows instead of "
            "the executors through JDBC (install libmariadb-java: make system-deps)",
            MARIADB_JDBC_JAR,
        )
        _insert_from_driver(frame, database_url)
        return STAGING_WRITE_DRIVER
    frame.write.format("jdbc").options(**jdbc_options(database_url), dbtable="prediction_staging").mode(
        "append"
    ).save()
    return STAGING_WRITE_JDBC


def spark_log_location(settings: Settings, relpath: str) -> str:
    """Where Spark reads a log: under THREEKCAL_SPARK_LOG_URI (s3a://, hdfs://, a shared mount) if set."""
    if settings.spark_log_uri:
        return f"{settings.spark_log_uri.rstrip('/')}/{relpath}"
    return str(logfiles.resolve(settings.log_dir, relpath).resolve())


def apply_batch_spark(
    settings: Settings, spark: SparkSession, batch: BatchRow, *, checkpoint: Checkpoint = no_checkpoint
) -> BatchResult:
    from pyspark.sql import functions as F

    started = time.perf_counter()
    engine = engine_for(settings.database_url)
    spark.conf.set("spark.sql.variant.allowDuplicateKeys", "true")  # as Python's json: the last one wins
    checked = checked_lines(spark, spark_log_location(settings, batch.log_path), batch.run_id).cache()
    try:
        bad = checked.filter(F.col("reason").isNotNull()).select("line_no", "value", "reason")
        bad = bad.orderBy("line_no")
        quarantined = [QuarantinedLine(row.line_no, row.value, row.reason) for row in bad.collect()]
        valid = checked.filter(F.col("reason").isNull())
        valid_lines = valid.count()
        newest = newest_per_num(valid, batch.run_id).cache()
        records = newest.count()
        quarantine = None
        if quarantined:
            quarantine_file = logfiles.quarantine_path(settings.log_dir, batch.run_id)
            logfiles.write_json_lines_atomically(quarantine_file, (line.as_json() for line in quarantined))
            quarantine = str(quarantine_file.relative_to(settings.log_dir))
        with engine.begin() as connection:  # leftovers of an attempt that died before its merge
            connection.execute(delete(staging).where(staging.c.run_id == batch.run_id))
        staging_write = write_staging(newest, settings.database_url) if records else None
        newest.unpersist()
    finally:
        checked.unpersist()
    with engine.begin() as connection:
        applied_rows = merge_predictions(connection, staging, batch.run_id)
        unknown = list(connection.execute(unknown_nums_query(staging, batch.run_id)).scalars())
        connection.execute(delete(staging).where(staging.c.run_id == batch.run_id))
        details = dict(batch.details or {})
        details.update(
            valid_lines=valid_lines,
            records=records,
            unknown_sample=unknown[:UNKNOWN_SAMPLE],
            quarantine_path=quarantine,
            staging_write=staging_write,
        )
        mark_applied(
            connection,
            batch.run_id,
            engine="spark",
            applied_rows=applied_rows,
            unknown_nums=len(unknown),
            quarantined=len(quarantined),
            seconds=time.perf_counter() - started,
            details=details,
        )
        checkpoint(APPLY_BEFORE_COMMIT)
    return BatchResult(
        batch.run_id,
        "spark",
        "applied",
        records=records,
        applied_rows=applied_rows,
        unknown_nums=len(unknown),
        quarantined=len(quarantined),
        seconds=time.perf_counter() - started,
    )
