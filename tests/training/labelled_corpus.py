"""A labelled corpus with a learnable signal: each emotion has its own cue words, put into shared
templates with neutral filler, seeded. Every word is one the offline test model's tokenizer was trained on
(``threekcal.model.testmodel``), so fine-tuning the tiny model can pick the cues up."""

from __future__ import annotations

import random

from threekcal.emotions import LABELS

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
