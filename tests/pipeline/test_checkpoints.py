"""Checkpoints are injected by the caller and reached in order; the pipeline's modules form no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

from pipeline_helpers import KeywordClassifier, add_comments

from threekcal.pipeline import checkpoints
from threekcal.pipeline.apply import apply_logs
from threekcal.pipeline.predict import predict_pending
from threekcal.settings import Settings

PIPELINE = Path(checkpoints.__file__).parent


def test_injected_checkpoints_are_reached_in_order(settings: Settings, classifier: KeywordClassifier) -> None:
    add_comments(settings.database_url, ["happy", "sad", "wow"])
    reached: list[str] = []
    predicted = predict_pending(settings, classifier, run_id="run-points", checkpoint=reached.append)
    applied = apply_logs(settings, chunk_size=2, checkpoint=reached.append)
    assert predicted.records == 3 and applied.applied_rows == 3
    assert reached == [
        checkpoints.PREDICT_LOG_WRITTEN,
        checkpoints.PREDICT_REGISTERED,
        checkpoints.APPLY_CHUNK_COMMITTED,  # 3 records in chunks of 2: one chunk before the last
        checkpoints.APPLY_BEFORE_COMMIT,
    ]


def _imports(path: Path) -> set[str]:
    """The ``threekcal.pipeline`` modules ``path`` imports, at any depth of the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("threekcal.pipeline."):
                found.add(node.module.split(".")[2])
            elif node.module == "threekcal.pipeline":
                found.update(alias.name for alias in node.names)
    return found


def test_pipeline_modules_import_no_cycle_and_read_no_test_switch() -> None:
    graph = {path.stem: _imports(path) for path in PIPELINE.glob("*.py")}
    for module, imported in graph.items():
        for other in imported:
            assert module not in graph.get(other, set()), f"{module} and {other} import each other"
    for path in PIPELINE.glob("*.py"):
        assert "THREEKCAL_TEST" not in path.read_text(), f"{path.name} reads a test switch"
