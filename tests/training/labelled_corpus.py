"""A labelled corpus with a learnable signal: each emotion has its own cue words, put into shared
templates with neutral filler, seeded. Every word is one the offline test model's tokenizer was trained on
(``threekcal.model.testmodel``), so fine-tuning the tiny model can pick the cues up."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from threekcal.db.models import Comment
from threekcal.db.session import engine_for
from threekcal.emotions import LABELS

CORPUS_SIZE = 1250
TINY_TRAINING = {
    "train_epochs": 8.0,
    "train_learning_rate": 3e-3,
    "train_dropout": 0.0,  # the tiny random model learns nothing through dropout noise in a few steps
    "train_max_length": 32,
    "torch_threads": 1,
    "batch_size": 64,
    "train_precision": "fp32",  # the same arithmetic on every CPU; bf16 has its own test
}


def add_labelled(database_url: str, pairs: list[tuple[str, str]], *, by: str = "tester") -> None:
    """Insert (text, label) comments, labelled by a person.

    Numbers follow the table's highest one explicitly: the held-out split is a hash of ``num``, and
    MariaDB's auto-increment counter survives the fixtures' emptying of the table, so without this the
    split (and what the model learns) would depend on which tests ran before."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    engine = engine_for(database_url)
    with engine.connect() as connection:
        first_num = connection.execute(select(func.coalesce(func.max(Comment.num), 0))).scalar_one() + 1
    rows = [
        {
            "num": first_num + index,
            "comments": text,
            "request_user": "corpus",
            "request_time": start + timedelta(minutes=index),
            "receipt": f"corpus-{index}-{text[:8]}-{len(pairs)}",
            "label": label,
            "labeled_by": by,
            "label_source": "chosen",
            "labeled_at": start + timedelta(minutes=index, seconds=30),
        }
        for index, (text, label) in enumerate(pairs)
    ]
    with engine.begin() as connection:
        connection.execute(insert(Comment), rows)


CUES: dict[str, tuple[str, ...]] = {
    "anger": ("angry", "furious", "hate", "stupid", "scream"),
    "disgust": ("gross", "disgusted", "sick", "ugly", "horrible"),
    "fear": ("scared", "afraid", "scary", "nervous", "dangerous"),
    "joy": ("happy", "great", "wonderful", "glad", "laugh"),
    "neutral": ("okay", "fine", "normal", "quiet", "usual"),
    "sadness": ("sad", "lonely", "cry", "sorry", "hurt"),
    "surprise": ("surprised", "shocked", "wow", "omg", "suddenly"),
}
SUBJECTS = ("I", "we", "my friend", "the teacher", "my mother", "the kids", "our team", "my boss")
OBJECTS = (
    "the movie",
    "the exam",
    "the weather",
    "the news",
    "the train",
    "the meeting",
    "the game",
    "the party",
)
FILLER = ("today", "this", "morning", "week", "again", "really", "just", "at", "home", "work", "after", "the")
TEMPLATES = (
    "{subject} {cue} about {object} {filler}",
    "{object} made {subject} {cue} {filler}",
    "{filler} {subject} felt {cue} after {object}",
    "{cue} {cue2} {object} {filler}",
)


def labelled_corpus(count: int, seed: int = 7) -> list[tuple[str, str]]:
    """``count`` (text, label) pairs, labels in turn so every class is present."""
    rng = random.Random(seed)
    pairs = []
    for index in range(count):
        label = LABELS[index % len(LABELS)]
        text = rng.choice(TEMPLATES).format(
            subject=rng.choice(SUBJECTS),
            cue=rng.choice(CUES[label]),
            cue2=rng.choice(CUES[label]),
            object=rng.choice(OBJECTS),
            filler=" ".join(rng.choice(FILLER) for _ in range(rng.randint(1, 4))),
        )
        pairs.append((text[0].upper() + text[1:], label))
    rng.shuffle(pairs)
    return pairs
