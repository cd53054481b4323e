"""An offline stand-in for the real model: right shape, right labels, random weights.

``build_test_model`` writes a directory that loads exactly like a model saved with ``save_pretrained``:
DistilRoBERTa's architecture (``size="full"``: 6 layers, hidden 768, 12 heads, intermediate 3072, vocabulary
50265, 514 positions; ``size="tiny"``: the same layout scaled down), the seven-emotion label config of
michellejieli/emotion_text_classifier, and a byte-level BPE tokenizer trained here on sentences generated
from built-in word lists. Nothing is downloaded and the result depends only on ``seed``.

Its predictions mean nothing. The weights are random; the classification head is rescaled on the built-in
sentences only so that different texts get different labels (otherwise every text gets the same one),
which tests of ordering and benchmarks need.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from threekcal.emotions import DEFAULT_MODEL, LABELS

if TYPE_CHECKING:
    import torch
    from transformers import BatchEncoding, RobertaForSequenceClassification, RobertaTokenizer

SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")  # ids 0-4, as in RoBERTa
MAX_POSITIONS = 514  # 512 tokens: RoBERTa numbers positions from pad_token_id + 1
SIZES: dict[str, dict[str, int]] = {
    "full": {
        "vocab_size": 50265,
        "hidden_size": 768,
        "num_hidden_layers": 6,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
    },
    "tiny": {
        "vocab_size": 1000,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 64,
    },
}
TOKENIZER_VOCAB = {"full": 8000, "tiny": 1000}
BODY_WEIGHT_GAIN = 2.0
"""Weights ~ N(0, gain / sqrt(hidden)): enough spread that the first token's state depends on the text."""
HEAD_LOGIT_SCALE = 2.0
"""Standard deviation of the calibrated logits over the built-in sentences."""
CORPUS_SENTENCES = 4000
CALIBRATION_SENTENCES = 256

README = """\
# ThreeKcal offline test model ({size})

Built by `threekcal model build-test` (`threekcal.model.testmodel.build_test_model`, seed {seed}).

**Its predictions mean nothing.** The weights are random: this model has the architecture and the
seven-label config of `{real}` so that loading, batching, ONNX export, the pipeline and benchmarks can
be exercised without internet. The tokenizer is a byte-level BPE trained on generated sentences.
Use the real model (THREEKCAL_MODEL unset) for anything a person reads.
"""

# fmt: off
_SUBJECTS = (
    "I", "you", "we", "they", "she", "he", "my friend", "the teacher", "our team", "my mother", "the manager",
    "everyone", "nobody", "the neighbours", "my brother", "the kids", "this city", "the company", "my boss",
)
_VERBS = (
    "love", "hate", "fear", "enjoy", "miss", "dread", "admire", "regret", "expect", "doubt", "like", "need",
    "forgot", "remember", "found", "lost", "watched", "cooked", "cancelled", "won", "broke", "fixed",
)
_OBJECTS = (
    "the movie", "this song", "the exam", "our holiday", "the weather", "that pizza", "the news", "my phone",
    "the train", "the meeting", "the game", "this coffee", "the traffic", "the concert", "the results",
    "the weekend", "the new job", "the hospital", "the garden", "the present", "the bill", "the party",
)
_ADJECTIVES = (
    "happy", "sad", "angry", "scared", "surprised", "disgusted", "calm", "bored", "excited", "tired",
    "lonely", "proud", "weird", "gross", "amazing", "terrible", "lovely", "awful", "quiet", "nervous",
    "furious", "delighted", "shocked", "worried", "grateful", "upset", "relaxed", "anxious", "thrilled",
)
_ADVERBS = ("really", "so", "totally", "a bit", "quite", "very", "never", "always", "honestly", "still")
_ENDINGS = (".", "!", "?", "...", "!!", " :)", " :(", " 😀", " 😭", " 🤬", " lol", " omg", ".")
_INTERJECTIONS = ("Wow,", "Ugh,", "Oh no,", "Yay,", "Hmm,", "Well,", "Honestly,", "Seriously,", "", "", "")
# fmt: on
_COMMON_WORDS = """
i you we they he she it me my your our their this that these those the a an and but or so because if when
then than too very really just not never always still again already also only even maybe here there now
today tonight yesterday tomorrow week weekend morning night year time day life world home work school job
love hate like want need miss feel felt think know see saw look hear heard say said tell told ask got get
give take make made go went come came keep let put try tried start stop wait leave lost find found win won
lose broke break fix call play watch read write eat drink sleep cry laugh smile scream run walk drive pay
happy sad angry scared afraid surprised shocked disgusted calm bored excited tired lonely proud weird
gross amazing terrible lovely awful great good bad best worst nice horrible wonderful boring funny scary
beautiful ugly strange perfect stupid crazy sick hurt safe dangerous nervous worried upset glad sorry
fine okay cool hot cold late early long short big small new old free hard easy quiet loud dark bright
movie song music game exam test job boss friend friends family mom dad mother father brother sister kids
baby dog cat weather rain snow sun coffee tea pizza food dinner lunch breakfast train bus car traffic
news party holiday trip city town street house room phone internet computer money bill price team match
result results story book show video picture doctor hospital teacher class office meeting email message
wow ugh omg lol yay hmm seriously honestly finally literally totally absolutely actually probably
what why how who where which all nothing everything someone nobody everyone something anything much more
less most many few lot lots bit thing things way people person guy guys man woman girl boy
is are was were be been am do does did have has had can could will would should must may might
"""
WORDS: tuple[str, ...] = tuple(dict.fromkeys(_COMMON_WORDS.split()))
"""Everyday English words; the tokenizer learns each as one token, as a real English vocabulary would."""
CHATTER_SHARE = 0.4


def _chatter(rng: random.Random) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 25))) + rng.choice(_ENDINGS)
    return text[0].upper() + text[1:]


def _sentence(rng: random.Random) -> str:
    if rng.random() < CHATTER_SHARE:
        return _chatter(rng)
    parts = [
        rng.choice(_INTERJECTIONS),
        rng.choice(_SUBJECTS),
        rng.choice(_VERBS),
        rng.choice(_OBJECTS),
        "and",
        "feel" if rng.random() < 0.5 else "felt",
        rng.choice(_ADVERBS),
        rng.choice(_ADJECTIVES),
    ]
    if rng.random() < 0.4:
        parts += ["because", rng.choice(_OBJECTS), "was", rng.choice(_ADJECTIVES)]
    text = " ".join(part for part in parts if part) + rng.choice(_ENDINGS)
    return text[0].upper() + text[1:]


def corpus(count: int, seed: int = 0) -> list[str]:
    """Deterministic English-like sentences built from the word lists above."""
    rng = random.Random(seed)
    return [_sentence(rng) for _ in range(count)]


def build_test_model(target: Path, size: Literal["tiny", "full"] = "tiny", seed: int = 0) -> Path:
    """Write the test model to ``target`` (replacing what is there) and return ``target``.

    The directory appears complete or not at all: it is built next to ``target`` and renamed into place.
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, not {size!r}")
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _build(staging, size, seed)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _build(directory: Path, size: str, seed: int) -> None:
    import torch
    from transformers import RobertaConfig, RobertaForSequenceClassification

    from threekcal.model._hf import quiet_progress

    tokenizer = _train_tokenizer(TOKENIZER_VOCAB[size])
    tokenizer.save_pretrained(directory)
    dimensions = dict(SIZES[size])
    if size == "tiny":  # the tiny model's embedding table fits its tokenizer exactly
        dimensions["vocab_size"] = len(tokenizer)
    config = RobertaConfig(
        **dimensions,
        max_position_embeddings=MAX_POSITIONS,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        id2label=dict(enumerate(LABELS)),
        label2id={label: index for index, label in enumerate(LABELS)},
        problem_type="single_label_classification",
        architectures=["RobertaForSequenceClassification"],
    )
    torch.manual_seed(seed)
    model = RobertaForSequenceClassification(config).eval()
    generator = torch.Generator().manual_seed(seed)
    # One thread: float sums then run in one order, so the calibrated head (and the files' hash) is the
    # same whatever thread count the calling process was set to.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            _spread_body(model, generator)
            sentences = corpus(CALIBRATION_SENTENCES, seed=seed + 1)
            batch = tokenizer(sentences, padding=True, return_tensors="pt")
            _calibrate_head(model, batch, generator)
    finally:
        torch.set_num_threads(threads)
    with quiet_progress():
        model.save_pretrained(directory)
    (directory / "README.md").write_text(README.format(size=size, seed=seed, real=DEFAULT_MODEL))
    for path in directory.iterdir():  # safetensors writes 0600; a model directory is shared read-only
        os.chmod(path, 0o644)
    os.chmod(directory, 0o755)


def _train_tokenizer(vocab_size: int) -> RobertaTokenizer:
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizer

    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        corpus(CORPUS_SENTENCES),
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        show_progress=False,
    )
    model = json.loads(trainer._tokenizer.to_str())["model"]
    merges = [
        tuple(merge.split(" ")) if isinstance(merge, str) else tuple(merge) for merge in model["merges"]
    ]
    return RobertaTokenizer(vocab=model["vocab"], merges=merges, model_max_length=MAX_POSITIONS - 2)


def _spread_body(model: RobertaForSequenceClassification, generator: torch.Generator) -> None:
    import torch

    std = BODY_WEIGHT_GAIN / model.config.hidden_size**0.5
    for module in model.roberta.modules():
        if isinstance(module, torch.nn.Linear | torch.nn.Embedding):
            module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * std)


def _calibrate_head(
    model: RobertaForSequenceClassification, batch: BatchEncoding, generator: torch.Generator
) -> None:
    """Random head, centred and scaled on the built-in sentences so that every label wins sometimes."""
    import torch

    head = model.classifier
    features = model.roberta(**batch).last_hidden_state[:, 0]
    mean, std = features.mean(0), features.std(0).clamp_min(1e-6)
    hidden = features.shape[1]
    dense = torch.randn((hidden, hidden), generator=generator) / (std * hidden**0.5)
    head.dense.weight.copy_(dense)
    head.dense.bias.copy_(-dense @ mean)
    activations = torch.tanh(head.dense(features))
    out = torch.randn((len(LABELS), hidden), generator=generator)
    logits = activations @ out.T
    scale = HEAD_LOGIT_SCALE / logits.std(0).clamp_min(1e-6)
    head.out_proj.weight.copy_(out * scale[:, None])
    head.out_proj.bias.copy_(-logits.mean(0) * scale)
