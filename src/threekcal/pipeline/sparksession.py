"""One SparkSession per process for ThreeKcal's Spark jobs, and the JDBC settings for MariaDB.

Local mode (``local[N]``) binds to loopback. With a cluster master (``spark://host:port``) nothing is
forced: the driver advertises ``THREEKCAL_SPARK_DRIVER_HOST`` when set (the address executors on other
hosts use to reach it), and the master is probed first so that a wrong or unreachable master fails in
seconds with one line (``SparkUnavailable``) instead of Spark's minute of retries.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import sys
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from threekcal.settings import Settings

DEFAULT_STANDALONE_PORT = 7077
# Debian's libmariadb-java (MariaDB Connector/J).
MARIADB_JDBC_JAR = Path("/usr/share/java/mariadb-java-client.jar")
MARIADB_JDBC_DRIVER = "org.mariadb.jdbc.Driver"
LOG4J2_CONFIG = Path(__file__).with_name("spark-log4j2.properties")


class SparkUnavailable(RuntimeError):
    """The Spark master cannot be reached; the message says which and what to check."""


def jdbc_jar() -> Path | None:
    return MARIADB_JDBC_JAR if MARIADB_JDBC_JAR.exists() else None


def is_local_master(master: str) -> bool:
    return master == "local" or master.startswith("local[")


def master_addresses(master: str) -> list[tuple[str, int]]:
    """host:port pairs of a ``spark://`` (several for HA masters) or ``k8s://`` master; [] for others."""
    if master.startswith("spark://"):
        addresses = []
        for part in master.removeprefix("spark://").split(","):
            host, _, port = part.strip().rpartition(":") if ":" in part else (part.strip(), "", "")
            addresses.append((host, int(port) if port else DEFAULT_STANDALONE_PORT))
        return addresses
    if master.startswith("k8s://"):
        url = urlsplit(master.removeprefix("k8s://"))
        if url.hostname:
            return [(url.hostname, url.port or (443 if url.scheme == "https" else 80))]
    return []


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def check_master_reachable(master: str, timeout: float) -> None:
    """Raise ``SparkUnavailable`` unless one of the master's addresses accepts a TCP connection."""
    addresses = master_addresses(master)
    problems = []
    for host, port in addresses:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            return
        except (OSError, ValueError) as exc:
            reason = "timed out" if isinstance(exc, TimeoutError) else (getattr(exc, "strerror", None) or exc)
            problems.append(f"{host}:{port} ({reason})")
    if addresses:
        raise SparkUnavailable(
            f"Spark master {master} is unreachable: {', '.join(problems)}; "
            "check THREEKCAL_SPARK_MASTER or --master, and that the master is running"
        )


def driver_environment(master: str) -> dict[str, str]:
    """Environment defaults for the driver: loopback only when everything runs on this host."""
    environment = {}
    hosts = [host for host, _ in master_addresses(master)]
    if is_local_master(master) or (hosts and all(_is_loopback(host) for host in hosts)):
        environment["SPARK_LOCAL_IP"] = "127.0.0.1"
    if is_local_master(master):
        # Local Python workers (the predict engine) run this interpreter; a cluster's executors run
        # PYSPARK_PYTHON as the user sets it (a path that exists on the workers).
        environment["PYSPARK_PYTHON"] = sys.executable
    return environment


def spark_for(settings: Settings, master: str | None = None, *, app_name: str = "threekcal") -> SparkSession:
    """The session for ``master`` (default THREEKCAL_SPARK_MASTER) with this installation's settings."""
    return get_spark(
        master or settings.spark_master,
        driver_host=settings.spark_driver_host,
        connect_timeout=settings.spark_connect_timeout,
        app_name=app_name,
    )


@lru_cache(maxsize=1)
def get_spark(
    master: str = "local[2]",
    shuffle_partitions: int = 4,
    *,
    driver_host: str | None = None,
    connect_timeout: float = 5.0,
    app_name: str = "threekcal",
) -> SparkSession:
    """The process's SparkSession (no UI, UTC, quiet log4j2, the JDBC jar on the classpath if installed)."""
    from pyspark.sql import SparkSession

    # py4j logs every connection it closes at INFO, down to interpreter shutdown.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    check_master_reachable(master, connect_timeout)
    for name, value in driver_environment(master).items():
        os.environ.setdefault(name, value)  # what the user set wins
    java_options = f"-Duser.timezone=UTC -Dlog4j2.configurationFile={LOG4J2_CONFIG.as_uri()}"
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", java_options)
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        # JSON objects with a repeated key keep the last value, as Python's json does.
        .config("spark.sql.mapKeyDedupPolicy", "LAST_WIN")
        .config("spark.sql.variant.allowDuplicateKeys", "true")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    if driver_host:
        builder = builder.config("spark.driver.host", driver_host)
    jar = jdbc_jar()
    if jar is not None:
        builder = builder.config("spark.jars", str(jar))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def jdbc_options(database_url: str) -> dict[str, Any]:
    """Spark JDBC options for a MariaDB SQLAlchemy URL.

    ``jdbc:mysql:...?permitMysqlScheme``: Spark then quotes names with backticks (its MySQL dialect);
    a plain ``jdbc:mariadb:`` URL makes it use double quotes, which MariaDB reads as strings.
    """
    url = make_url(database_url)
    host = url.host or "127.0.0.1"
    port = url.port or 3306
    options: dict[str, Any] = {
        "url": f"jdbc:mysql://{host}:{port}/{url.database}?permitMysqlScheme&rewriteBatchedStatements=true",
        "driver": MARIADB_JDBC_DRIVER,
        "user": url.username or "root",
        "password": url.password or "",
    }
    return options
