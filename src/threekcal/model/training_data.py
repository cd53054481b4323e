"""Which labelled comments a training run learns from, and which ones only ever evaluate.

The evaluation set is fixed: :func:`is_evaluation_comment` decides it from the comment number alone (a
hash of ``num``), so a comment that evaluated once evaluates forever and no training ever sees it. When
an audit sample exists (comments labelled from the uniformly random audit queue: ``comments.audit``,
migration 0006), it is the evaluation set instead, and no audit-labelled comment is ever trained on.

Label sources are the comments' ``label_source`` (issue 8's provenance): ``chosen`` (a person picked
the label), ``accepted`` (a person accepted the prediction of that one comment), ``resolved`` (an admin
decided a disagreement) and ``bulk_accepted`` (predictions accepted in bulk). Training leaves
``bulk_accepted`` out by default: those labels teach the model what it already says.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select

from threekcal.db.models import LABEL_SOURCES, Comment
from threekcal.db.session import engine_for
from threekcal.emotions import LABELS

DEFAULT_LABEL_SOURCES = ("chosen", "accepted", "resolved")  # labels a person decided on, one by one
UNRECORDED_SOURCE = "chosen"  # a label without provenance: migration 0004 calls such labels chosen
EVAL_SALT = b"threekcal-evaluation-set:"


class TrainingDataError(ValueError):
    """Not enough (or unusable) labels to train; the message says what is missing."""


@dataclass(frozen=True)
class LabelledComment:
    num: int
    text: str
    label: str
    source: str


@dataclass
class LabelledSplit:
    train: list[LabelledComment] = field(default_factory=list)
    evaluation: list[LabelledComment] = field(default_factory=list)
    left_out_by_source: int = 0

    def data_hash(self) -> str:
        return data_hash(self.train)


def is_evaluation_comment(num: int, share: float) -> bool:
    """The one rule for the held-out set without an audit sample: a stable hash of ``num`` below ``share``."""
    digest = hashlib.sha256(EVAL_SALT + str(int(num)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def data_hash(examples: Iterable[LabelledComment]) -> str:
    """SHA-256 over (num, label, text) in num order: the same data gives the same hash."""
    digest = hashlib.sha256()
    for example in sorted(examples, key=lambda item: item.num):
        digest.update(f"{example.num}\0{example.label}\0{example.text}\0".encode())
    return digest.hexdigest()


def check_label_sources(sources: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(source.strip().lower() for source in sources))
    unknown = [source for source in chosen if source not in LABEL_SOURCES]
    if unknown or not chosen:
        raise TrainingDataError(
            f"unknown label source {', '.join(unknown) or '(none)'}: "
            f"use one or more of {', '.join(LABEL_SOURCES)}"
        )
    return chosen


def load_labelled(
    database_url: str, *, eval_share: float, label_sources: Iterable[str] = DEFAULT_LABEL_SOURCES
) -> LabelledSplit:
    """Every labelled comment, split into training (of the wanted sources) and the fixed evaluation set.

    The evaluation set keeps every source: it measures the model on what people said the truth is.
    """
    sources = check_label_sources(label_sources)
    query = (
        select(Comment.num, Comment.comments, Comment.label, Comment.label_source, Comment.audit)
        .where(Comment.label.in_(LABELS))
        .order_by(Comment.num)
    )
    with engine_for(database_url).connect() as connection:
        rows = connection.execute(query).all()
    has_audit_sample = any(row.audit for row in rows)
    split = LabelledSplit()
    for row in rows:
        source = row.label_source or UNRECORDED_SOURCE
        example = LabelledComment(row.num, row.comments, row.label, source)
        held_out = bool(row.audit) if has_audit_sample else is_evaluation_comment(row.num, eval_share)
        if held_out:
            split.evaluation.append(example)
        elif source in sources:
            split.train.append(example)
        else:
            split.left_out_by_source += 1
    return split


def check_enough(split: LabelledSplit, min_labels: int) -> None:
    """Refuse a run that cannot learn every class: too few labels, or a class with none."""
    counts = Counter(example.label for example in split.train)
    missing = [label for label in LABELS if counts[label] == 0]
    if len(split.train) < min_labels:
        raise TrainingDataError(
            f"only {len(split.train)} labelled comments are available for training; at least {min_labels} "
            "are needed (THREEKCAL_TRAIN_MIN_LABELS). Label more comments and run it again."
        )
    if missing:
        raise TrainingDataError(
            f"no training labels for {', '.join(missing)}: every emotion needs at least one labelled comment "
            "(outside the held-out evaluation set) before the model can be trained."
        )
    if not split.evaluation:
        raise TrainingDataError("the held-out evaluation set is empty: label more comments first.")


def count_labelled_since(database_url: str, since: object) -> int:
    """Labelled comments whose label was set after ``since`` (None: all of them)."""
    query = select(func.count()).select_from(Comment).where(Comment.label.in_(LABELS))
    if since is not None:
        query = query.where(Comment.labeled_at > since)
    with engine_for(database_url).connect() as connection:
        return int(connection.execute(query).scalar_one())
