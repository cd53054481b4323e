"""Run by test_dags.py in a fresh interpreter, with AIRFLOW_HOME & co. already in the environment
(Airflow reads its configuration when first imported). Prints one JSON line with what it saw.

    python airflow_harness.py            # import the DAG folder, then dag.test() both DAGs
"""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    db.resetdb()
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    report: dict = {"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}, "dags": {}}
    for dag_id, dag in sorted(bag.dags.items()):
        task = dag.tasks[0]
        report["dags"][dag_id] = {
            "schedule": dag.schedule if isinstance(dag.schedule, str) else None,
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "tasks": [t.task_id for t in dag.tasks],
            "retries": task.retries,
            "outlets": [getattr(o, "name", str(o)) for o in task.outlets],
            "asset_schedule": [asset.name for asset in dag.schedule]
            if isinstance(dag.schedule, list)
            else [],
        }
    for dag_id in ("predict_emotion", "save_db"):
        if dag_id not in bag.dags:
            continue
        for task in bag.dags[dag_id].tasks:
            task.retries = 0  # dag.test() would sleep through the retry delays before reporting a failure
        run = bag.dags[dag_id].test()
        report[dag_id] = {
            "state": str(run.state),
            "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()},
        }
    print("HARNESS " + json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
