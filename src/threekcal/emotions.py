"""The seven emotions every part of ThreeKcal speaks of, in one fixed order."""

from typing import Final, Literal

Emotion = Literal["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]

LABELS: Final[tuple[str, ...]] = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")

EMOJI: Final[dict[str, str]] = {
    "anger": "🤬",
    "disgust": "🤢",
    "fear": "😨",
    "joy": "😀",
    "neutral": "😐",
    "sadness": "😭",
    "surprise": "😲",
}

DEFAULT_MODEL: Final = "michellejieli/emotion_text_classifier"
