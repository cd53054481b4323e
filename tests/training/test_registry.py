"""The registry: the first active version, promotion and rollback (CLI and rules), the audit, and the
worker picking up a promotion on its next cycle without a restart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from typer.testing import CliRunner

from threekcal.cli import app
from threekcal.db import registry
from threekcal.db.models import Comment, RegistryEvent
from threekcal.db.session import engine_for, session_factory
from threekcal.model import load_classifier
from threekcal.pipeline.active_model import ActiveClassifier, record_tag
from threekcal.pipeline.worker import classifier_for_cycle, run_cycle
from threekcal.settings import Settings, get_settings

runner = CliRunner()


@pytest.fixture(scope="session")
def other_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second real model (the test model with another seed): different weights, different predictions."""
    from threekcal.model.testmodel import build_test_model

    return build_test_model(tmp_path_factory.mktemp("models") / "tiny-seed1", size="tiny", seed=1)


@pytest.fixture
def two_versions(train_settings: Settings, other_model_dir: Path) -> tuple[int, int]:
    with session_factory(train_settings.database_url)() as session:
        first = registry.ensure_initial_version(session, train_settings.model)
        second = registry.register_candidate(
            session,
            source=str(other_model_dir),
            tag=None,
            parent_id=first.version_id,
            created_by="tester",
            training_data_hash="0" * 64,
            training_data_size=0,
            metrics={},
        )
        return first.version_id, second.id


@pytest.fixture
def cli_env(train_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("THREEKCAL_DATABASE_URL", train_settings.database_url)
    monkeypatch.setenv("THREEKCAL_MODEL", train_settings.model)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _add_pending(database_url: str, texts: list[str]) -> None:
    with engine_for(database_url).begin() as connection:
        connection.execute(
            insert(Comment),
            [
                {
                    "comments": text,
                    "request_user": "u",
                    "request_time": datetime.now(UTC),
                    "receipt": f"r-{text}",
                }
                for text in texts
            ],
        )


def _predictions(database_url: str, texts: list[str]) -> dict[str, tuple[str, str]]:
    with engine_for(database_url).connect() as connection:
        rows = connection.execute(
            select(Comment.comments, Comment.prediction_result, Comment.model_version).where(
                Comment.comments.in_(texts)
            )
        ).all()
    return {text: (label, version) for text, label, version in rows}


def test_the_first_use_registers_threekcal_model_as_the_active_version(train_settings: Settings) -> None:
    with session_factory(train_settings.database_url)() as session:
        first = registry.ensure_initial_version(session, train_settings.model)
    record_tag(train_settings, first.version_id, "tiny@abc+onnx")  # loaded once
    with session_factory(train_settings.database_url)() as session:
        again = registry.ensure_initial_version(session, "some/other-model")
        versions = registry.list_versions(session)
        events = registry.events(session)
    assert first == again and len(versions) == 1
    assert (versions[0].status, versions[0].source, versions[0].created_by) == (
        "active",
        train_settings.model,
        "system",
    )
    assert [event.action for event in events] == ["register-initial"]


def test_a_first_version_that_never_loaded_follows_threekcal_model(train_settings: Settings) -> None:
    """`make run` without internet seeds the hub model, which never loads; pointing THREEKCAL_MODEL at a
    local model afterwards must take effect, not leave the worker stuck on the first one."""
    with session_factory(train_settings.database_url)() as session:
        first = registry.ensure_initial_version(session, "michellejieli/emotion_text_classifier")
        followed = registry.ensure_initial_version(session, train_settings.model)
        versions = registry.list_versions(session)
        events = registry.events(session)
    assert followed == registry.ActiveModel(first.version_id, train_settings.model)
    only = (first.version_id, train_settings.model, "active")
    assert [(v.id, v.source, v.status) for v in versions] == [only]
    assert [event.action for event in events] == ["reseed-initial", "register-initial"]  # newest first
    assert events[0].details == {
        "source": train_settings.model,
        "instead_of": "michellejieli/emotion_text_classifier",
    }


def test_promotion_switches_the_worker_to_the_new_version_and_rollback_switches_back(
    train_settings: Settings, two_versions: tuple[int, int], other_model_dir: Path
) -> None:
    first_id, second_id = two_versions
    loads: list[str] = []

    def load(source: str):  # type: ignore[no-untyped-def]
        loads.append(source)
        return load_classifier(source, "torch", settings=train_settings)

    active = ActiveClassifier(train_settings, load=load)
    texts = [f"what a happy day number {index}" for index in range(6)]
    _add_pending(train_settings.database_url, texts[:2])
    run_cycle(train_settings, classifier_for_cycle(active))
    run_cycle(train_settings, classifier_for_cycle(active))  # unchanged: no reload
    assert loads == [train_settings.model]
    first_version = load_classifier(train_settings.model, "torch", settings=train_settings).model_version
    assert {version for _, version in _predictions(train_settings.database_url, texts[:2]).values()} == {
        first_version
    }

    with session_factory(train_settings.database_url)() as session:
        registry.promote(session, second_id, author="alice")
    _add_pending(train_settings.database_url, texts[2:4])
    run_cycle(train_settings, classifier_for_cycle(active))
    second = load_classifier(str(other_model_dir), "torch", settings=train_settings)
    got = _predictions(train_settings.database_url, texts[2:4])
    expected = second.predict(texts[2:4])
    assert [got[text] for text in texts[2:4]] == [(p.label, second.model_version) for p in expected]
    assert loads == [train_settings.model, str(other_model_dir)]

    with session_factory(train_settings.database_url)() as session:
        assert registry.rollback(session, author="bob").id == first_id
        statuses = {version.id: version.status for version in registry.list_versions(session)}
        actions = [(event.action, event.author, event.version_id) for event in registry.events(session)]
    assert statuses == {first_id: "active", second_id: "retired"}
    assert actions[:2] == [("rollback", "bob", first_id), ("promote", "alice", second_id)]
    _add_pending(train_settings.database_url, texts[4:])
    run_cycle(train_settings, classifier_for_cycle(active))
    assert {version for _, version in _predictions(train_settings.database_url, texts[4:]).values()} == {
        first_version
    }


def test_models_cli_lists_shows_promotes_and_rolls_back_with_the_author_audited(
    train_settings: Settings, two_versions: tuple[int, int], cli_env: None
) -> None:
    first_id, second_id = two_versions
    listed = runner.invoke(app, ["models", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [(v["id"], v["status"]) for v in json.loads(listed.output)] == [
        (first_id, "active"),
        (second_id, "candidate"),
    ]
    assert runner.invoke(app, ["models", "list"]).exit_code == 0
    shown = runner.invoke(app, ["models", "show", str(second_id)])
    assert shown.exit_code == 0 and json.loads(shown.output)["parent_id"] == first_id

    promoted = runner.invoke(app, ["models", "promote", str(second_id), "--author", "carol"])
    assert promoted.exit_code == 0 and f"version {second_id} is active" in promoted.output
    again = runner.invoke(app, ["models", "promote", str(second_id), "--author", "carol"])
    assert again.exit_code == 2 and "already active" in again.output
    missing = runner.invoke(app, ["models", "promote", "999999", "--author", "carol"])
    assert missing.exit_code == 2 and "999999 not found" in missing.output
    rolled = runner.invoke(app, ["models", "rollback", "--author", "dave"])
    assert rolled.exit_code == 0 and f"version {first_id} is active" in rolled.output

    with engine_for(train_settings.database_url).connect() as connection:
        audit = connection.execute(
            select(RegistryEvent.action, RegistryEvent.author).order_by(RegistryEvent.id)
        ).all()
    assert [tuple(row) for row in audit] == [
        ("register-initial", "system"),
        ("register", "tester"),
        ("promote", "carol"),
        ("rollback", "dave"),
    ]


def test_rollback_without_an_earlier_version_changes_nothing(train_settings: Settings, cli_env: None) -> None:
    with session_factory(train_settings.database_url)() as session:
        registry.ensure_initial_version(session, train_settings.model)
    result = runner.invoke(app, ["models", "rollback", "--author", "erin"])
    assert result.exit_code == 2 and "nothing to roll back" in result.output
    with session_factory(train_settings.database_url)() as session:
        assert [v.status for v in registry.list_versions(session)] == ["active"]
        assert [e.action for e in registry.events(session)] == ["register-initial"]


def test_one_off_predict_and_backfill_use_the_active_version_not_threekcal_model(
    train_settings: Settings,
    two_versions: tuple[int, int],
    other_model_dir: Path,
    cli_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first_id, second_id = two_versions
    for key, value in {
        "THREEKCAL_LOG_DIR": str(train_settings.log_dir),
        "THREEKCAL_CACHE_DIR": str(train_settings.cache_dir),
        "THREEKCAL_BACKEND": "torch",
        "THREEKCAL_TORCH_THREADS": "1",
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    with session_factory(train_settings.database_url)() as session:
        registry.promote(session, second_id, author="alice")
    texts = [f"the exam made me so angry number {index}" for index in range(5)]
    _add_pending(train_settings.database_url, texts)

    predicted = runner.invoke(app, ["predict"])  # THREEKCAL_MODEL is the first version: not used
    assert predicted.exit_code == 0, predicted.output
    applied = runner.invoke(app, ["apply"])
    assert applied.exit_code == 0, applied.output
    second = load_classifier(str(other_model_dir), "torch", settings=train_settings)
    got = _predictions(train_settings.database_url, texts)
    assert [got[text] for text in texts] == [(p.label, second.model_version) for p in second.predict(texts)]
    with session_factory(train_settings.database_url)() as session:
        assert registry.get_version(session, second_id).tag == second.model_version.rsplit("+", 1)[0]
        registry.rollback(session, author="bob")

    rescored = runner.invoke(app, ["backfill"])  # no --model: the active version again (the first)
    assert rescored.exit_code == 0, rescored.output
    first = load_classifier(train_settings.model, "torch", settings=train_settings)
    got = _predictions(train_settings.database_url, texts)
    assert [got[text] for text in texts] == [(p.label, first.model_version) for p in first.predict(texts)]
    assert first.model_version != second.model_version

    more = [f"a wonderful happy morning number {index}" for index in range(3)]
    _add_pending(train_settings.database_url, more)
    explicit = runner.invoke(app, ["predict", "--model", str(other_model_dir)])  # --model still wins
    assert explicit.exit_code == 0, explicit.output
    assert runner.invoke(app, ["apply"]).exit_code == 0
    assert {version for _, version in _predictions(train_settings.database_url, more).values()} == {
        second.model_version
    }
    with session_factory(train_settings.database_url)() as session:
        assert registry.active_model(session) == registry.ActiveModel(first_id, train_settings.model)
