"""The batch pipeline: pending comments -> prediction log -> database.

- ``predict``: select pending comments, classify them, write one log per run (atomic), register it;
- ``apply``: the apply step's orchestrator; ``apply_local`` and ``spark_apply`` are its engines
  (SQLAlchemy or Spark SQL), ``merge`` what they share: validate a log, keep the newest record per
  comment, merge it into ``comments`` exactly once;
- ``spark_predict``: the predict and backfill steps scoring on Spark executors (``--engine spark``);
  ``sparksession``: the Spark session, master probe and JDBC options;
- ``checkpoints``: named points where a caller (a test) may look in or pause a step;
- ``worker``: both in a loop (``threekcal worker``, part of ``make run``);
- ``backfill``: score comments again with another model through the same path;
- ``status``: ``threekcal status`` and ``GET /pipeline``;
- ``airflow_tasks``: what the DAGs in ``dags/`` call (needs Apache Airflow).

Crash safety is described where it is implemented: ``predict`` (writing and publishing a log),
``batches.recover_interrupted_runs`` (finishing a killed run), ``apply`` (applying exactly once).
"""
