"""Where the model files come from: a local directory or the Hugging Face hub cache.

Resolution never imports torch or transformers, so the ONNX backend can serve without them. A hub id is
looked up in the local cache first; only when it is missing is the hub contacted, with a short probe, so
that a machine without internet gets one clear error in seconds instead of a long retry loop.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from threekcal.emotions import LABELS
from threekcal.model._types import ModelError

HUB_PROBE_TIMEOUT_S = 5.0
HUB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "vocab.txt",
    "sentencepiece.bpe.model",
    "spiece.model",
)
# In order of preference; a sharded checkpoint is named by its index file.
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
SHARDS = {
    "model.safetensors.index.json": "model-*.safetensors",
    "pytorch_model.bin.index.json": "pytorch_model-*.bin",
}
HINT = (
    "Set THREEKCAL_MODEL to a model directory that is already on this machine (an offline test model: "
    "`threekcal model build-test var/models/tiny`), or connect once to the internet to fill the "
    "Hugging Face cache."
)


@dataclass(frozen=True)
class ModelSource:
    """A model whose files are all on local disk."""

    name: str
    """The hub id, or the directory's name."""
    path: Path
    """Directory holding config.json, tokenizer and weights."""
    revision: str
    """The hub commit hash, or a content hash of the directory's files."""
    origin: Literal["hub", "local"]

    @property
    def version(self) -> str:
        """``name@short-revision``: the same for the same files, whoever loads them."""
        short = self.revision[:7] if self.origin == "hub" else self.revision[:12]
        return f"{self.name}@{short}"

    def labels(self) -> tuple[str, ...]:
        """The model's output labels in output order, normalised; refuses any other label set."""
        return read_labels(self.path, self.name)


def resolve_model(spec: str) -> ModelSource:
    """Turn THREEKCAL_MODEL (a local directory, a hub id, or ``hub-id@revision``) into local files."""
    spec = spec.strip()
    if not spec:
        raise ModelError("THREEKCAL_MODEL is empty: give a Hugging Face model id or a model directory.")
    directory = Path(spec).expanduser()
    if directory.is_dir():
        return _local_source(directory)
    repo_id, _, revision = spec.partition("@")
    if spec.startswith(("/", ".", "~")) or directory.exists() or not HUB_ID_PATTERN.match(repo_id):
        raise ModelError(
            f"THREEKCAL_MODEL={spec!r} is neither an existing model directory nor a Hugging Face model id "
            "(like 'michellejieli/emotion_text_classifier')."
        )
    return _hub_source(repo_id, revision or None)


def read_labels(path: Path, name: str) -> tuple[str, ...]:
    config = _read_config(path, name)
    raw = config.get("id2label") or {}
    try:
        by_index = {int(index): str(label) for index, label in raw.items()}
    except (AttributeError, TypeError, ValueError):
        by_index = {}
    labels = tuple(by_index[i].strip().lower() for i in sorted(by_index))
    if sorted(by_index) != list(range(len(by_index))) or sorted(labels) != sorted(LABELS):
        shown = ", ".join(str(label) for label in raw.values()) if isinstance(raw, dict) else repr(raw)
        raise ModelError(
            f"Model {name!r} predicts the labels [{shown or 'none'}], but ThreeKcal needs exactly the seven "
            f"emotions {', '.join(LABELS)} (in any order or case). Set THREEKCAL_MODEL to a 7-emotion "
            "classifier such as michellejieli/emotion_text_classifier."
        )
    return labels


def _read_config(path: Path, name: str) -> dict:
    config_path = path / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(
            f"Model {name!r}: {path} has no config.json; THREEKCAL_MODEL must name a directory saved with "
            "save_pretrained() or a Hugging Face model id."
        ) from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"Model {name!r}: cannot read {config_path}: {exc}") from exc
    if not isinstance(config, dict):
        raise ModelError(f"Model {name!r}: {config_path} is not a JSON object.")
    return config


def _has_weights(path: Path) -> bool:
    return any((path / weights).is_file() for weights in WEIGHT_FILES)


def _local_source(directory: Path) -> ModelSource:
    directory = directory.resolve()
    _read_config(directory, directory.name)
    if not _has_weights(directory):
        raise ModelError(
            f"Model directory {directory} has no weights ({' or '.join(WEIGHT_FILES[::2])}); "
            "check THREEKCAL_MODEL."
        )
    return ModelSource(directory.name, directory, content_hash(directory), "local")


def content_hash(directory: Path) -> str:
    """SHA-256 over the relative names and contents of the directory's files (hidden ones left out)."""
    digest = hashlib.sha256()
    files = sorted(
        path
        for path in directory.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    )
    for path in files:
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        with path.open("rb") as stream:
            digest.update(hashlib.file_digest(stream, "sha256").digest())
    return digest.hexdigest()


def hub_offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) as huggingface_hub reads it, also when set after import."""
    from huggingface_hub import constants

    values = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    return constants.HF_HUB_OFFLINE or any(
        (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"} for value in values
    )


def _hub_source(repo_id: str, revision: str | None) -> ModelSource:
    snapshot = _cached_snapshot(repo_id, revision)
    if snapshot is None:
        snapshot = _download(repo_id, revision)
    return ModelSource(repo_id, snapshot, snapshot.name, "hub")


def _cached_snapshot(repo_id: str, revision: str | None) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    config = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    if not isinstance(config, str):
        return None
    snapshot = Path(config).parent
    return snapshot if _has_weights(snapshot) else None


def _download(repo_id: str, revision: str | None) -> Path:
    from huggingface_hub import HfApi, constants, snapshot_download
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    where = f"the Hugging Face cache ({constants.HF_HUB_CACHE})"
    if hub_offline():
        raise ModelError(
            f"Model {repo_id!r} (THREEKCAL_MODEL) is not in {where} and HF_HUB_OFFLINE is set, so it cannot "
            f"be downloaded. {HINT} Unset HF_HUB_OFFLINE to allow the download."
        )
    try:
        info = HfApi().model_info(repo_id, revision=revision, timeout=HUB_PROBE_TIMEOUT_S)
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise ModelError(
            f"Model {repo_id!r} (THREEKCAL_MODEL){f' at revision {revision!r}' if revision else ''} does not "
            f"exist on the Hugging Face hub or is private: {exc.__class__.__name__}."
        ) from exc
    except Exception as exc:  # any network failure means the same thing to the user
        raise ModelError(
            f"Model {repo_id!r} (THREEKCAL_MODEL) is not in {where} and the hub cannot be reached "
            f"({exc.__class__.__name__}: {exc}). {HINT} Set HF_HUB_OFFLINE=1 on machines without internet."
        ) from exc
    available = {sibling.rfilename for sibling in info.siblings or ()}
    wanted = ["config.json", *(name for name in TOKENIZER_FILES if name in available)]
    weights = next((name for name in WEIGHT_FILES if name in available), None)
    if "config.json" not in available or weights is None:
        raise ModelError(f"Model {repo_id!r} on the hub has no config.json or no transformers weights.")
    wanted.append(weights)
    if weights in SHARDS:
        wanted.append(SHARDS[weights])
    try:
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=wanted))
    except Exception as exc:
        raise ModelError(f"Downloading model {repo_id!r} (THREEKCAL_MODEL) failed: {exc}") from exc
