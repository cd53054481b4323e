"""Run by test_retrain_dag.py in a fresh interpreter with AIRFLOW_HOME & co. set: imports the DAG folder,
then ``dag.test()`` of retrain_emotion twice (auto_promote on): once with the labels waiting, once with
no new labels since. Prints one JSON line with what it saw."""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    db.resetdb()
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    dag = bag.dags["retrain_emotion"]
    report: dict = {
        "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
        "schedule": dag.schedule if isinstance(dag.schedule, str) else None,
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "params": {key: dag.params[key] for key in dag.params},
        "runs": [],
    }
    for _ in range(2):
        run = dag.test(run_conf={"auto_promote": True})
        report["runs"].append(
            {"state": str(run.state), "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()}}
        )
    print("HARNESS " + json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
