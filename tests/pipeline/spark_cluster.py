"""A real Spark standalone cluster for tests: one master and two one-core workers from the pip package,
and an executor interpreter that does NOT have ThreeKcal.

The executor interpreter is a fresh ``python -m venv`` whose only addition is a ``.pth`` line naming
the main environment's site-packages directory: it sees numpy, pandas, pyarrow, tokenizers,
onnxruntime (what scoring needs) but not ThreeKcal, because the editable install is itself a ``.pth``
file in that directory, and Python does not read ``.pth`` files inside a directory that a ``.pth``
line added. (Installing the dependencies into a separate venv would download gigabytes; this is exact
and takes a second.) The workers run without PYTHONPATH, so the source tree is not on their path either.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

WORKERS = 2
START_TIMEOUT = 90.0


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports: all held open together, so the OS cannot hand one out twice (the
    JVMs bind them seconds later; ports picked one at a time could collide, and a worker's UI would then
    answer on the master's UI port)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def clean_environment() -> dict[str, str]:
    """This environment without anything that would put ThreeKcal on a Python path."""
    drop = ("PYTHONPATH", "PYTHONHOME", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "VIRTUAL_ENV")
    return {
        key: value
        for key, value in os.environ.items()
        if key not in drop and not key.startswith("THREEKCAL_")
    }


def bare_interpreter(directory: Path) -> Path:
    """A venv with the main environment's third-party packages and without ThreeKcal."""
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(directory)], check=True)  # type: ignore[attr-defined]
    python = directory / "bin" / "python"
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site_packages, "main_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@dataclass
class SparkCluster:
    master_url: str
    web_url: str
    executor_python: Path

    def status(self) -> dict:
        with urllib.request.urlopen(f"{self.web_url}/json/", timeout=5) as response:
            return json.load(response)


def _wait_for_workers(cluster: SparkCluster, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"a Spark process exited with {process.returncode} during start-up")
        try:
            alive = [worker for worker in cluster.status()["workers"] if worker["state"] == "ALIVE"]
            if len(alive) == WORKERS:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the Spark master did not see {WORKERS} workers within {START_TIMEOUT:.0f} s")


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkCluster]:
    import pyspark

    home = Path(pyspark.__file__).parent
    spark_class = str(home / "bin" / "spark-class")
    root = tmp_path_factory.mktemp("spark-cluster")
    python = bare_interpreter(root / "executor-venv")
    environment = clean_environment() | {"SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    master_port, web_port, *worker_web_ports = free_ports(2 + WORKERS)
    cluster = SparkCluster(f"spark://127.0.0.1:{master_port}", f"http://127.0.0.1:{web_port}", python)
    logs = root / "logs"
    logs.mkdir()
    processes: list[subprocess.Popen[bytes]] = []

    def launch(name: str, *args: str) -> None:
        with open(logs / f"{name}.log", "wb") as log:
            processes.append(
                subprocess.Popen(
                    [spark_class, *args], env=environment, stdout=log, stderr=subprocess.STDOUT, cwd=root
                )
            )

    try:
        launch(
            "master",
            "org.apache.spark.deploy.master.Master",
            "--host", "127.0.0.1", "--port", str(master_port), "--webui-port", str(web_port),
        )  # fmt: skip
        for index in range(WORKERS):
            work_dir = root / f"worker-{index}"
            work_dir.mkdir()
            launch(
                f"worker-{index}",
                "org.apache.spark.deploy.worker.Worker",
                cluster.master_url,
                "--host", "127.0.0.1", "--cores", "1", "--memory", "1g",
                "--webui-port", str(worker_web_ports[index]), "--work-dir", str(work_dir),
            )  # fmt: skip
        _wait_for_workers(cluster, processes)
        yield cluster
    except RuntimeError as exc:
        tails = "\n".join(f"--- {path.name}\n{path.read_text()[-2000:]}" for path in sorted(logs.iterdir()))
        raise RuntimeError(f"{exc}\n{tails}") from None
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(root / "executor-venv", ignore_errors=True)
