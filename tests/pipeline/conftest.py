"""Pipeline fixtures."""

from __future__ import annotations

import pytest
from pipeline_helpers import KeywordClassifier


@pytest.fixture
def classifier() -> KeywordClassifier:
    return KeywordClassifier()


@pytest.fixture(scope="session")
def spark():  # type: ignore[no-untyped-def]
    """One local Spark session for the whole test run (it takes seconds to start)."""
    from threekcal.pipeline.sparksession import get_spark

    session = get_spark("local[2]", shuffle_partitions=2)
    yield session
    # Stopped here, not at interpreter exit, where py4j would log to streams pytest already closed.
    session.stop()
    get_spark.cache_clear()
