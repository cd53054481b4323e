"""The batch pipeline: pending comments -> prediction log -> database.

- ``predict``: select pending comments, classify them, write one log per run (atomic), register it;
- ``apply`` / ``spark_apply``: validate a log, keep the newest record per comment, merge it into
  ``comments`` exactly once (local SQLAlchemy engine or PySpark);
- ``worker``: both in a loop (``threekcal worker``, part of ``make run``);
- ``backfill``: score comments again with another model through the same path;
- ``status``: ``threekcal status`` and ``GET /pipeline``;
- ``airflow_tasks``: what the DAGs in ``dags/`` call (needs Apache Airflow).

Crash safety is described where it is implemented: ``predict`` (writing and publishing a log),
``batches.recover_interrupted_runs`` (finishing a killed run), ``apply`` (applying exactly once).
"""
