"""Fine-tuning on the labels: the tiny model learns a learnable corpus, the held-out set stays held out,
too few labels stop with a clear message, and the registry records the candidate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from labelled_corpus import add_labelled, labelled_corpus
from sqlalchemy import func, select
from typer.testing import CliRunner

from threekcal.cli import app
from threekcal.db import accounts, registry
from threekcal.db.labels import accept_predictions
from threekcal.db.models import Comment, ModelVersion
from threekcal.db.session import engine_for, session_factory
from threekcal.model.training import (
    STAGING_PREFIX,
    TrainRequest,
    clean_stale_staging,
    resolve_precision,
    train_version,
)
from threekcal.model.training_data import (
    TrainingDataError,
    check_enough,
    data_hash,
    is_evaluation_comment,
    load_labelled,
)
from threekcal.settings import Settings, get_settings

runner = CliRunner()


def _versions(settings: Settings) -> list[ModelVersion]:
    with session_factory(settings.database_url)() as session:
        return registry.list_versions(session)


def test_fine_tuning_lifts_held_out_accuracy_from_chance_and_registers_a_candidate(
    labelled_db: Settings,
) -> None:
    outcome = train_version(labelled_db, TrainRequest(author="tester"))

    evaluation = outcome.evaluation
    assert evaluation["eval_size"] > 150
    assert evaluation["active"]["accuracy"] < 0.35  # the random test model: about chance (1/7)
    assert evaluation["candidate"]["accuracy"] >= 0.8
    assert evaluation["candidate"]["macro_f1"] >= 0.8
    assert evaluation["verdict"] == "better" and evaluation["mcnemar"]["p_value"] < 0.05
    assert 0.0 <= evaluation["candidate"]["ece"] <= 1.0
    files = {path.name for path in outcome.path.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "training_args.json",
        "training_data.json",
        "metrics.json",
    } <= files
    assert {"tokenizer_config.json"} <= files
    assert [path.name for path in outcome.path.parent.iterdir()] == [outcome.path.name]  # no staging left
    initial, candidate = _versions(labelled_db)
    assert (initial.status, initial.source) == ("active", labelled_db.model)
    assert (candidate.id, candidate.status, candidate.parent_id) == (
        outcome.version_id,
        "candidate",
        initial.id,
    )
    assert (
        candidate.created_by == "tester"
        and candidate.tag
        and candidate.tag.startswith(outcome.path.name + "@")
    )
    split = load_labelled(labelled_db.database_url, eval_share=labelled_db.eval_share)
    assert candidate.training_data_hash == data_hash(split.train)
    assert candidate.training_data_size == len(split.train)
    assert json.loads((outcome.path / "training_data.json").read_text())["data_hash"] == split.data_hash()


def test_bf16_mixed_precision_learns_as_well_and_is_recorded(labelled_db: Settings) -> None:
    outcome = train_version(labelled_db, TrainRequest(author="tester", precision="bf16"))

    assert outcome.evaluation["candidate"]["accuracy"] >= 0.8
    assert json.loads((outcome.path / "training_data.json").read_text())["precision"] == "bf16"
    assert json.loads((outcome.path / "training_args.json").read_text())["bf16"] is True


def test_auto_precision_is_bf16_only_where_the_cpu_has_amx_bf16_units() -> None:
    amx = frozenset({"avx512f", "avx512_bf16", "amx_bf16", "amx_int8"})
    converts_only = frozenset({"avx512f", "avx512_bf16", "avx512_vnni"})
    assert resolve_precision("auto", amx) == ("bf16", "bf16 mixed precision: the CPU has amx_bf16")
    assert resolve_precision("auto", converts_only)[0] == "fp32"
    assert resolve_precision("auto", frozenset())[0] == "fp32"
    assert resolve_precision("fp32", amx) == ("fp32", "fp32 as requested")
    assert resolve_precision("bf16", frozenset()) == ("bf16", "bf16 as requested")
    with pytest.raises(ValueError, match="Unknown training precision 'fp16'; choose one of auto, fp32, bf16"):
        resolve_precision("fp16", amx)


def test_evaluation_comments_never_appear_in_training_data(labelled_db: Settings) -> None:
    split = load_labelled(labelled_db.database_url, eval_share=labelled_db.eval_share)
    train_nums = {example.num for example in split.train}
    eval_nums = {example.num for example in split.evaluation}
    assert train_nums and eval_nums and not train_nums & eval_nums
    assert all(is_evaluation_comment(num, labelled_db.eval_share) for num in eval_nums)
    assert not any(is_evaluation_comment(num, labelled_db.eval_share) for num in train_nums)
    # the rule depends on num only: the same comments are held out whatever else is labelled
    add_labelled(labelled_db.database_url, labelled_corpus(70, seed=99))
    again = load_labelled(labelled_db.database_url, eval_share=labelled_db.eval_share)
    assert eval_nums <= {example.num for example in again.evaluation}
    assert 0.15 < len(eval_nums) / (len(eval_nums) + len(train_nums)) < 0.25


def test_the_audit_sample_is_the_evaluation_set_and_never_trains(train_settings: Settings) -> None:
    from sqlalchemy import update

    add_labelled(train_settings.database_url, labelled_corpus(300))
    before = load_labelled(train_settings.database_url, eval_share=0.2)  # no audit labels: the hash split
    assert {example.num for example in before.evaluation} == {
        num for num in _labelled_nums(train_settings) if is_evaluation_comment(num, 0.2)
    }
    nums = _labelled_nums(train_settings)
    audit = set(nums[::5])  # 60 comments, on both sides of the hash split
    assert any(is_evaluation_comment(num, 0.2) for num in audit)
    assert not all(is_evaluation_comment(num, 0.2) for num in audit)
    with engine_for(train_settings.database_url).begin() as connection:
        connection.execute(update(Comment).where(Comment.num.in_(audit)).values(audit=True))

    split = load_labelled(train_settings.database_url, eval_share=0.2)
    eval_nums = {example.num for example in split.evaluation}
    train_nums = {example.num for example in split.train}
    assert eval_nums == audit
    assert not train_nums & audit
    assert train_nums == set(nums) - audit  # hash-held-out comments train once an audit sample exists
    assert split.data_hash() != before.data_hash()


def _labelled_nums(settings: Settings) -> list[int]:
    with engine_for(settings.database_url).connect() as connection:
        return list(
            connection.scalars(select(Comment.num).where(Comment.label.is_not(None)).order_by(Comment.num))
        )


def test_bulk_accepted_labels_are_left_out_unless_asked_for(train_settings: Settings) -> None:
    from sqlalchemy import update

    add_labelled(train_settings.database_url, labelled_corpus(200))
    with engine_for(train_settings.database_url).connect() as connection:
        ordered = [num for (num,) in connection.execute(select(Comment.num).order_by(Comment.num).limit(80))]
    bulk, accepted, resolved = ordered[:40], ordered[40:60], ordered[60:80]
    with engine_for(train_settings.database_url).begin() as connection:  # 40 predicted, not labelled
        connection.execute(
            update(Comment).where(Comment.num.in_(bulk)).values(label=None, prediction_result="joy")
        )
        # issue 8's provenance of labels a person decided on one by one
        connection.execute(update(Comment).where(Comment.num.in_(accepted)).values(label_source="accepted"))
        connection.execute(update(Comment).where(Comment.num.in_(resolved)).values(label_source="resolved"))
    with session_factory(train_settings.database_url)() as session:
        admin = accounts.create_user(session, "boss", role="admin", password=None)
        assert accept_predictions(session, bulk, by=admin).accepted == 40
    with engine_for(train_settings.database_url).connect() as connection:
        query = select(Comment.num, Comment.label_source).where(Comment.num.in_(bulk))
        sources = {num: source for num, source in connection.execute(query)}
    assert set(sources.values()) == {"bulk_accepted"}
    default = load_labelled(train_settings.database_url, eval_share=0.2)
    both = load_labelled(
        train_settings.database_url, eval_share=0.2, label_sources=["chosen", "accepted", "bulk_accepted"]
    )
    bulk_in_training = [num for num in bulk if not is_evaluation_comment(num, 0.2)]
    assert default.left_out_by_source == len(bulk_in_training) > 0
    trained = {example.num: example.source for example in default.train}
    assert not set(trained) & set(bulk)
    for num in accepted + resolved:  # accepted and resolved labels train by default
        assert (num in trained) == (not is_evaluation_comment(num, 0.2))
    assert {trained[num] for num in resolved if num in trained} == {"resolved"}
    assert set(bulk_in_training) <= {example.num for example in both.train}
    assert not {example.num for example in both.train} & set(resolved)  # not asked for this time
    with pytest.raises(TrainingDataError, match="unknown label source"):
        load_labelled(train_settings.database_url, eval_share=0.2, label_sources=["robots"])
    with pytest.raises(TrainingDataError, match="unknown label source"):
        load_labelled(train_settings.database_url, eval_share=0.2, label_sources=["bulk"])  # no guessing


def test_too_few_labels_or_a_missing_class_is_a_clear_error_with_exit_code_2(
    train_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_labelled(train_settings.database_url, labelled_corpus(30))
    for key, value in {
        "THREEKCAL_DATABASE_URL": train_settings.database_url,
        "THREEKCAL_MODEL": train_settings.model,
        "THREEKCAL_MODEL_DIR": str(train_settings.model_dir),
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["train"])
        bad_precision = runner.invoke(app, ["train", "--precision", "fp16"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert "at least 50" in result.output and "THREEKCAL_TRAIN_MIN_LABELS" in result.output
    assert bad_precision.exit_code == 2, bad_precision.output
    assert "Unknown training precision 'fp16'; choose one of auto, fp32, bf16." in bad_precision.output
    assert [version.status for version in _versions(train_settings)] == ["active"]  # nothing registered
    assert not train_settings.model_dir.exists() or not any(train_settings.model_dir.iterdir())

    no_fear = [(text, label) for text, label in labelled_corpus(300) if label != "fear"]
    split = load_labelled(train_settings.database_url, eval_share=0.2)
    split.train = [example for example in split.train if example.label != "fear"]
    assert no_fear
    with pytest.raises(TrainingDataError, match="no training labels for fear"):
        check_enough(split, 10)


def test_a_training_process_killed_mid_run_registers_nothing_and_leaves_no_model_directory(
    labelled_db: Settings,
) -> None:
    env = os.environ | {
        "THREEKCAL_DATABASE_URL": labelled_db.database_url,
        "THREEKCAL_MODEL": labelled_db.model,
        "THREEKCAL_MODEL_DIR": str(labelled_db.model_dir),
        "THREEKCAL_TRAIN_EPOCHS": "100",  # long enough to be killed while training
        "THREEKCAL_TRAIN_LEARNING_RATE": "3e-3",
        "THREEKCAL_TORCH_THREADS": "1",
        "THREEKCAL_ENV": "test",
        "THREEKCAL_ADMIN_TOKEN": "test-admin-token-0123456789",
        "HF_HUB_OFFLINE": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "threekcal.cli", "train", "--author", "doomed"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    try:
        while not list(labelled_db.model_dir.glob(f"{STAGING_PREFIX}*")):
            assert process.poll() is None, process.stderr.read().decode()[-3000:] if process.stderr else ""
            assert time.monotonic() < deadline, "training never started"
            time.sleep(0.2)
        time.sleep(2.0)  # inside Trainer.train()
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert [version.status for version in _versions(labelled_db)] == ["active"]
    visible = [path for path in labelled_db.model_dir.iterdir() if not path.name.startswith(".")]
    assert visible == []
    # the dead run's staging directory is hidden and the next run removes it before it starts
    assert clean_stale_staging(labelled_db.model_dir)
    assert list(labelled_db.model_dir.iterdir()) == []
    with engine_for(labelled_db.database_url).connect() as connection:
        assert connection.execute(select(func.count()).select_from(ModelVersion)).scalar_one() == 1
