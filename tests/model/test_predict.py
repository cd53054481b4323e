"""Predictions: shape, input order across sorted batches, batching of any size, empty and long inputs."""

from __future__ import annotations

import itertools
import math

import pytest

from threekcal.emotions import LABELS
from threekcal.model import Classifier, Prediction, _backend


def test_prediction_shape(torch_classifier: Classifier) -> None:
    predictions = torch_classifier.predict(["What a lovely day!", "I am so angry right now"])
    assert len(predictions) == 2
    for prediction in predictions:
        assert isinstance(prediction, Prediction)
        assert tuple(prediction.scores) == LABELS
        assert math.isclose(sum(prediction.scores.values()), 1.0, rel_tol=1e-6)
        assert prediction.label == max(prediction.scores, key=prediction.scores.__getitem__)
        assert prediction.score == prediction.scores[prediction.label]


def test_order_is_kept_across_sorted_batches(torch_classifier: Classifier, varied_texts: list[str]) -> None:
    texts = varied_texts
    together = torch_classifier.predict(texts)
    alone = [torch_classifier.predict([text])[0] for text in texts]
    labels = [prediction.label for prediction in alone]
    assert len(set(labels)) >= 3, f"the test model must give varied labels to test ordering: {labels}"
    assert [prediction.label for prediction in together] == labels
    for batched, single in zip(together, alone, strict=True):
        for label in LABELS:
            assert batched.scores[label] == pytest.approx(single.scores[label], abs=1e-5)


def test_any_number_of_texts_in_sort_windows(
    torch_classifier: Classifier, varied_texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = varied_texts
    expected = torch_classifier.predict(texts)
    monkeypatch.setattr(_backend, "SORT_WINDOW_BATCHES", 2)  # windows of 8 texts: several sorted windows
    progress: list[tuple[int, int]] = []
    predictions = torch_classifier.predict(texts, progress=lambda done, total: progress.append((done, total)))
    assert [p.label for p in predictions] == [p.label for p in expected]
    assert progress[-1] == (len(texts), len(texts))
    assert [done for done, _ in progress] == sorted({done for done, _ in progress})
    assert all(
        later - earlier <= torch_classifier.batch_size  # type: ignore[attr-defined]
        for (earlier, _), (later, _) in itertools.pairwise(progress)
    )
    assert torch_classifier.predict([]) == []


@pytest.mark.parametrize("bad", ["", "   ", "\n\t"])
def test_empty_text_is_refused(torch_classifier: Classifier, bad: str) -> None:
    with pytest.raises(ValueError, match=r"text #1 is empty"):
        torch_classifier.predict(["fine", bad, "also fine"])


def test_non_text_is_refused(torch_classifier: Classifier) -> None:
    with pytest.raises(TypeError, match="not a single string"):
        torch_classifier.predict("a bare string")
    with pytest.raises(TypeError, match="#0 is NoneType"):
        torch_classifier.predict([None])  # type: ignore[list-item]


def test_long_text_is_truncated_to_the_model_maximum(
    torch_classifier: Classifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = torch_classifier.backend  # type: ignore[attr-defined]
    widths: list[int] = []
    run = backend.logits
    monkeypatch.setattr(backend, "logits", lambda ids, mask: widths.append(ids.shape[1]) or run(ids, mask))
    opening = "the exam was great but the rain never stops " * 100  # far more than 512 tokens
    first, second = torch_classifier.predict(
        [opening + "I am happy", opening + "so sad and angry and scared"]
    )
    assert widths == [512]
    assert first.scores == pytest.approx(second.scores, abs=1e-6)  # the differing endings were cut off
