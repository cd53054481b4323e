"""The application's own life: what it does when the server starts and stops."""

from __future__ import annotations

import gc

from fastapi import FastAPI
from fastapi.testclient import TestClient


def test_what_the_server_built_before_serving_is_kept_out_of_full_collections_until_it_stops(
    app: FastAPI,
) -> None:
    with TestClient(app) as client:
        assert gc.get_freeze_count() > 10_000  # the modules, classes and functions the app imported
        assert client.get("/health").status_code == 200
        assert gc.get_freeze_count() > 10_000  # still kept while it serves (freed ones leave it)
    assert gc.get_freeze_count() == 0  # let go at shutdown: a process running many apps can free them
