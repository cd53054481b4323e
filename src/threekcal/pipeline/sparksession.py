"""One SparkSession per process, set up for the apply job, and the JDBC settings for MariaDB."""

from __future__ import annotations

import logging
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[*]"
# Debian's libmariadb-java (MariaDB Connector/J).
MARIADB_JDBC_JAR = Path("/usr/share/java/mariadb-java-client.jar")
MARIADB_JDBC_DRIVER = "org.mariadb.jdbc.Driver"


def jdbc_jar() -> Path | None:
    return MARIADB_JDBC_JAR if MARIADB_JDBC_JAR.exists() else None


@lru_cache(maxsize=1)
def get_spark(master: str | None = None, shuffle_partitions: int = 4) -> SparkSession:
    """The process's SparkSession (offline, no UI, UTC, the JDBC jar on the classpath if installed)."""
    from pyspark.sql import SparkSession

    # py4j logs every connection it closes at INFO, down to interpreter shutdown.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Python workers (per-partition writes) must run this interpreter, which has threekcal.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master or DEFAULT_MASTER)
        .appName("threekcal-apply")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        # JSON objects with a repeated key keep the last value, as Python's json does.
        .config("spark.sql.mapKeyDedupPolicy", "LAST_WIN")
    )
    jar = jdbc_jar()
    if jar is not None:
        builder = builder.config("spark.jars", str(jar))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
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
