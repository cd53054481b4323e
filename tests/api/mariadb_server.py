"""A MariaDB server of the test's own (own datadir, OS-chosen port) that a test may kill, restart, freeze
and thaw, as a crashed or stuck database server would behave."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pymysql

INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
SERVER = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
START_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MariaDbServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.datadir = root / "data"
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def install(self) -> None:
        # --no-defaults: the system configuration would force user=mysql and the system datadir
        subprocess.run(
            [INSTALL_DB, "--no-defaults", "--user=root", f"--datadir={self.datadir}",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def start(self) -> None:
        self.process = subprocess.Popen(
            [SERVER, "--no-defaults", "--user=root", f"--datadir={self.datadir}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--socket={self.root / 'sock'}", f"--pid-file={self.root / 'pid'}",
             f"--log-error={self.root / 'error.log'}", "--innodb-buffer-pool-size=64M",
             "--innodb-flush-log-at-trx-commit=1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                pymysql.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=2).close()
                return
            except pymysql.err.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(  # noqa: B904 - the last connection error says less than the log
                        f"MariaDB did not start: {(self.root / 'error.log').read_text()[-2000:]}"
                    )
                time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed beyond what InnoDB made durable."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def freeze(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def url(self, database: str) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}?charset=utf8mb4"

    def create_database(self, name: str) -> str:
        connection = pymysql.connect(host="127.0.0.1", port=self.port, user="root", autocommit=True)
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        connection.close()
        return self.url(name)
