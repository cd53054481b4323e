"""Fine-tuning speed of the full-size architecture: ThreeKcal's Trainer setup vs a naive one, in one run;
the time to fine-tune on 2,000 labels for 3 epochs; ONNX int8 vs fp32 agreement on the fine-tuned model.

    .venv/bin/python bench/train.py [--model-dir var/bench-models/full] [--threads 2] [--steps 12]
                                    [--full-run] [--precision auto] [--agreement-texts 1000]
    .venv/bin/python bench/train.py --skip-throughput [--agree-words 40] [--probe-train 2800]

- ThreeKcal: ``threekcal.model.training.fine_tune`` as ``threekcal train`` runs it: dynamic padding
  (DataCollatorWithPadding) and length grouping (``train_sampling_strategy="group_by_length"``);
- naive: the same Trainer with every example padded to 512 tokens and no length grouping;
- bf16: ThreeKcal's setup with bf16 mixed precision (``TrainingArguments(bf16=True)`` on the CPU:
  autocast, fp32 master weights), which ``threekcal train`` uses by default where the CPU has AMX
  (``THREEKCAL_TRAIN_PRECISION=auto``); the goal is judged on the precision ``--precision`` resolves to.

All run optimiser steps of batch 16 (``--steps``, ``--naive-steps``: the naive one is far slower) on
the same labelled comments, alternating, best of ``--rounds`` rounds (the machine is shared). The
2,000 labels x 3 epochs time is measured with ``--full-run``, otherwise extrapolated from the measured
rate (and says so). The agreement check (issue 11: does ONNX int8 agree with fp32 on the top label of
a model that has learned, >= 99%?) fits the full-size model's head on frozen fp32 encoder features
(``--agree-method probe``, the default; see ``probe_agreement``) or fine-tunes it end to end
(``--agree-method finetune``, ``--agree-steps`` steps: too few to learn on 2 cores), on comments of up to
``--agree-words`` words, exports it to ONNX fp32 and int8 through the product's path and compares top
labels on ``--agreement-texts`` held-out comments. Each timed run also prints the
CPU cores its process received (CPU time / wall time): on a shared machine that, and the load average,
say how much of the machine the figure had.
Goal (issue 11): 2,000 labels x 3 epochs in under 15 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import tempfile
import time
from pathlib import Path

from threekcal.emotions import LABELS
from threekcal.model import cpu_description
from threekcal.model._types import Prediction
from threekcal.model.testmodel import WORDS
from threekcal.model.training_data import LabelledComment

ROOT = Path(__file__).resolve().parents[1]
BATCH = 16
GOAL_MINUTES = 15.0
NAIVE_PAD = 512
CUES = {
    "anger": ("angry", "furious", "hate", "stupid"),
    "disgust": ("gross", "disgusted", "sick", "ugly"),
    "fear": ("scared", "afraid", "scary", "nervous"),
    "joy": ("happy", "great", "wonderful", "glad"),
    "neutral": ("okay", "fine", "normal", "quiet"),
    "sadness": ("sad", "lonely", "cry", "sorry"),
    "surprise": ("surprised", "shocked", "wow", "omg"),
}


def labelled(count: int, seed: int = 11, max_words: int = 40) -> list[LabelledComment]:
    """Comments of 5-40 everyday words with one emotion cue each: a learnable signal, real lengths."""
    rng = random.Random(seed)
    examples = []
    for num in range(count):
        label = LABELS[num % len(LABELS)]
        words = [rng.choice(WORDS) for _ in range(rng.randint(min(5, max_words), max_words))]
        words.insert(rng.randrange(len(words) + 1), rng.choice(CUES[label]))
        examples.append(LabelledComment(num, " ".join(words).capitalize() + ".", label, "chosen"))
    rng.shuffle(examples)
    return examples


def cpu_line() -> str:
    load = os.getloadavg()
    return (
        f"CPU: {cpu_description()} ({os.cpu_count()} cores), "
        f"{platform.python_implementation()} {platform.python_version()}, load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def ensure_model(model_dir: Path) -> Path:
    if not (model_dir / "config.json").exists():
        from threekcal.model.testmodel import build_test_model

        print(f"building the full-size test model in {model_dir} ...", flush=True)
        build_test_model(model_dir, size="full")
    return model_dir


def run(
    model_dir: Path,
    examples: list[LabelledComment],
    *,
    steps: int,
    naive: bool,
    epochs: float = 1.0,
    **extra: object,
) -> dict:
    from threekcal.model.training import fine_tune

    with tempfile.TemporaryDirectory() as output:
        cpu_before, started = _cpu_seconds(), time.perf_counter()
        result = fine_tune(
            model_dir,
            examples,
            output_dir=Path(output),
            epochs=epochs,
            learning_rate=float(extra.pop("learning_rate", 5e-5)),
            batch_size=BATCH,
            max_length=128,
            seed=42,
            pad_to=NAIVE_PAD if naive else None,
            group_by_length=not naive,
            max_steps=steps,
            save_checkpoints=False,
            **extra,  # type: ignore[arg-type]
        )
        seconds = time.perf_counter() - started
        cores = (_cpu_seconds() - cpu_before) / seconds
    runtime = result.metrics["train_runtime"]
    trained = steps * BATCH if steps > 0 else len(examples) * epochs
    return {"result": result, "per_s": trained / runtime, "runtime": runtime, "wall": seconds, "cores": cores}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def agreement(model_dir: Path, args: argparse.Namespace, threads: int, *, tiny: bool = False) -> None:
    """Fine-tune ``model_dir`` end to end, export it to ONNX fp32 and int8, compare their top labels.

    ``tiny``: the tiny test model, which learns the cues in seconds (lr 3e-3, no dropout, 8 epochs), for a
    model with real decision boundaries when the full-size one cannot be trained long enough here."""
    steps = 500 if tiny else args.agree_steps
    # the tiny model learns the cue in seconds only among a few words; the full-size one sees real lengths
    words = 6 if tiny else args.agree_words
    train = labelled(1000 if tiny else steps * BATCH, seed=5, max_words=words)
    held_out = labelled(args.agreement_texts, seed=6, max_words=words)
    started = time.perf_counter()
    if tiny:
        tuned = run(model_dir, train, steps=-1, naive=False, epochs=8.0, learning_rate=3e-3, dropout=0.0)
    else:
        tuned = run(model_dir, train, steps=steps, naive=False, learning_rate=args.agree_lr, dropout=0.0)
    elapsed = time.perf_counter() - started
    print(f"fine-tuned the {'tiny' if tiny else 'full-size'} model end to end in {elapsed:.0f} s")
    with tempfile.TemporaryDirectory() as scratch:
        tuned_dir = Path(scratch) / "tuned"
        tuned["result"].model.save_pretrained(tuned_dir)
        tuned["result"].tokenizer.save_pretrained(tuned_dir)
        compare_backends(tuned_dir, held_out, threads, Path(scratch) / "cache")


def probe_agreement(model_dir: Path, args: argparse.Namespace, threads: int) -> None:
    """Fit the full-size model's classification head on its frozen fp32 features, then compare backends.

    Why not fine-tune end to end: the random-init full-size model does not learn in the CPU-minutes this
    benchmark has (60-80 steps stayed at chance, 14-16%). Why not a head on the test model's own body: its
    weights are spread wide (``BODY_WEIGHT_GAIN``) so that random texts get different labels, and that body
    scrambles which words a comment holds within two layers (linear probe on held-out comments of up to 11
    words, 700 training ones: mean-pooled embeddings 72%, after layer 1 42%, after layer 6 21%, the last
    ``<s>`` state 21%), so no head learns on it (``--probe-init testmodel`` shows this).

    What it does (``--probe-init standard``, the default): the same full-size architecture and tokenizer,
    the encoder re-drawn as transformers initialises it before pre-training (N(0, 0.02)), which keeps the
    words in the residual stream. The encoder's fp32 ``<s>`` hidden states of ``--probe-train`` labelled
    comments are computed once (batched, no grad); a logistic regression is fitted on
    ``tanh(scale * (features - mean) / sd)``; that is written into RobertaClassificationHead exactly (dense =
    diagonal ``scale / sd`` with bias ``-scale * mean / sd``, tanh, out_proj = the fitted coefficients and
    intercepts), so the saved model computes the fitted classifier itself. ``--probe-head uniform`` (the
    default) uses one ``sd`` (the mean over features) so the dense weight is ``c * I``, which per-tensor
    int8 holds exactly; ``standardised`` uses each feature's own ``sd``: a diagonal spanning a wide range,
    whose small entries per-tensor int8 rounds away (an artefact of this construction, not of a trained
    head). Features are cached next to the model (``probe-features-*.npy``) for reruns. That model
    directory then goes through the product's own path (``load_classifier``: fused ONNX export,
    ``quantize_dynamic`` int8) on held-out comments of another seed: accuracy of each backend, top-label
    agreement with 95% Wilson intervals, and the fp32 top-1 minus top-2 probability (how close decisions
    are to a boundary).

    Caveat: only the head is trained; the body is random (not pre-trained), so its int8 rounding error
    relative to the signal the head reads is not that of the real fine-tuned model.
    """
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression

    from threekcal.model._hf import load_model, load_tokenizer

    words = args.agree_words
    train = labelled(args.probe_train, seed=5, max_words=words)
    held_out = labelled(args.agreement_texts, seed=6, max_words=words)
    model = load_model(model_dir)
    tokenizer, pad_id = load_tokenizer(model_dir, model.config)
    print(
        f"agreement check, full-size model ({model.config.num_hidden_layers} layers, hidden "
        f"{model.config.hidden_size}): classification head fitted on frozen fp32 <s> features, encoder "
        f"{'re-drawn with the standard init' if args.probe_init == 'standard' else 'of the test model'}, "
        f"{len(train)} training and {len(held_out)} held-out comments (seeds 5 and 6)",
        flush=True,
    )
    if args.probe_init == "standard":
        _standard_init(model, seed=args.probe_seed)
    started = time.perf_counter()
    cache = model_dir.parent / f"probe-features-{args.probe_init}-{args.probe_seed}-{len(train)}-{words}.npy"
    if cache.exists():  # the same encoder and comments: the features of an earlier run
        features = np.load(cache)
    else:
        features = _cls_features(model, tokenizer, pad_id, [example.text for example in train])
        np.save(cache, features)
    print(
        f"fp32 <s> features of {len(train)} training comments (up to {words + 1} words): "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )
    mean, sd = features.mean(axis=0), features.std(axis=0) + 1e-6
    if args.probe_head == "uniform":  # one scale for every feature: a dense weight int8 can hold exactly
        sd = np.full_like(sd, sd.mean())
    scaled = np.tanh(args.probe_scale * (features - mean) / sd)
    started = time.perf_counter()
    probe = LogisticRegression(C=args.probe_c, max_iter=3000).fit(scaled, [e.label for e in train])
    print(
        f"logistic regression head ({args.probe_head} dense, C={args.probe_c:g}, "
        f"scale {args.probe_scale:g}): "
        f"training accuracy {probe.score(scaled, [e.label for e in train]):.1%}, "
        f"fitted in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    head = model.classifier
    rows = [model.config.label2id[label] for label in probe.classes_]
    with torch.no_grad():
        head.dense.weight.copy_(torch.diag(torch.tensor(args.probe_scale / sd, dtype=torch.float32)))
        head.dense.bias.copy_(torch.tensor(-args.probe_scale * mean / sd, dtype=torch.float32))
        head.out_proj.weight[rows] = torch.tensor(probe.coef_, dtype=torch.float32)
        head.out_proj.bias[rows] = torch.tensor(probe.intercept_, dtype=torch.float32)
    with tempfile.TemporaryDirectory() as scratch:
        tuned_dir = Path(scratch) / "probed"
        model.save_pretrained(tuned_dir)
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json"):
            if (model_dir / name).exists():
                (tuned_dir / name).write_bytes((model_dir / name).read_bytes())
        compare_backends(tuned_dir, held_out, threads, Path(scratch) / "cache")
    print(
        "caveat: only the head learned; the encoder is random (standard init, not pre-trained), so how much "
        "int8 rounding moves its <s> state relative to the signal is not that of the real fine-tuned model"
    )


def _standard_init(model: object, seed: int) -> None:
    """Re-draw the encoder as transformers initialises it before pre-training (RoBERTa's ``_init_weights``):
    Linear and Embedding weights ~ N(0, initializer_range), biases and the padding embedding 0, LayerNorm 1/0.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    std = model.config.initializer_range  # type: ignore[attr-defined]
    with torch.no_grad():
        for module in model.roberta.modules():  # type: ignore[attr-defined]
            if isinstance(module, torch.nn.Linear | torch.nn.Embedding):
                module.weight.normal_(0.0, std, generator=generator)
                if isinstance(module, torch.nn.Embedding) and module.padding_idx is not None:
                    module.weight[module.padding_idx].zero_()
                if getattr(module, "bias", None) is not None:
                    module.bias.zero_()
            elif isinstance(module, torch.nn.LayerNorm):
                module.weight.fill_(1.0)
                module.bias.zero_()


def _cls_features(model: object, tokenizer: object, pad_id: int, texts: list[str]) -> object:
    """The encoder's last ``<s>`` hidden state of each text (fp32, batches of similar length, no grad)."""
    import numpy as np
    import torch

    encoded = [item.ids for item in tokenizer.encode_batch(texts)]  # type: ignore[attr-defined]
    order = sorted(range(len(texts)), key=lambda index: len(encoded[index]))
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)  # type: ignore[attr-defined]
    with torch.inference_mode():
        for start in range(0, len(order), 32):
            batch = order[start : start + 32]
            width = max(len(encoded[index]) for index in batch)
            input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, index in enumerate(batch):
                input_ids[row, : len(encoded[index])] = torch.tensor(encoded[index])
                attention_mask[row, : len(encoded[index])] = 1
            hidden = model.roberta(input_ids=input_ids, attention_mask=attention_mask)  # type: ignore[attr-defined]
            out[batch] = hidden.last_hidden_state[:, 0, :].numpy()
    return out


def compare_backends(tuned_dir: Path, held_out: list[LabelledComment], threads: int, cache: Path) -> None:
    """Top labels of torch fp32, ONNX fp32 and ONNX int8 (the product's export) on ``held_out``."""
    import numpy as np
    from scipy.stats import binomtest

    from threekcal.model import load_classifier
    from threekcal.settings import Settings

    settings = Settings(cache_dir=cache, torch_threads=threads, _env_file=None)
    texts = [example.text for example in held_out]
    labels: dict[str, list[str]] = {}
    margins: list[float] = []
    for backend in ("torch", "onnx-fp32", "onnx"):
        started = time.perf_counter()
        classifier = load_classifier(str(tuned_dir), backend, settings=settings)
        predictions = classifier.predict(texts)
        labels[backend] = [prediction.label for prediction in predictions]
        if backend == "onnx-fp32":
            margins = [_top_margin(prediction) for prediction in predictions]
        print(f"  {backend}: {len(texts)} comments in {time.perf_counter() - started:.0f} s", flush=True)
    truth = [example.label for example in held_out]
    n = len(texts)

    def share(left: list[str], right: list[str]) -> str:
        hits = sum(a == b for a, b in zip(left, right, strict=True))
        interval = binomtest(hits, n).proportion_ci(confidence_level=0.95, method="wilson")
        return f"{hits / n:.2%} ({hits}/{n}; 95% Wilson {interval.low:.2%}-{interval.high:.2%})"

    print(f"held-out comments: n = {n} (chance accuracy {1 / len(LABELS):.0%})")
    print(f"  accuracy torch fp32: {share(labels['torch'], truth)}")
    print(f"  accuracy ONNX fp32:  {share(labels['onnx-fp32'], truth)}")
    print(f"  accuracy ONNX int8:  {share(labels['onnx'], truth)}")
    print(f"  top label ONNX fp32 vs torch fp32: {share(labels['onnx-fp32'], labels['torch'])}")
    print(f"  top label ONNX int8 vs torch fp32: {share(labels['onnx'], labels['torch'])}")
    print(f"  top label ONNX int8 vs ONNX fp32:  {share(labels['onnx'], labels['onnx-fp32'])}")
    quartiles = np.percentile(margins, [10, 50, 90])
    print(
        "  ONNX fp32 top-1 minus top-2 probability, 10/50/90th percentile: "
        + " / ".join(f"{value:.3f}" for value in quartiles)
    )
    for floor in (0.1, 0.3, 0.5):
        kept = [index for index, margin in enumerate(margins) if margin >= floor]
        hits = sum(labels["onnx"][index] == labels["onnx-fp32"][index] for index in kept)
        print(
            f"  int8 vs fp32 where the fp32 margin is >= {floor:g}: "
            f"{hits / max(len(kept), 1):.2%} ({hits}/{len(kept)})"
        )
    same = sum(a == b for a, b in zip(labels["onnx"], labels["onnx-fp32"], strict=True))
    low = binomtest(same, n).proportion_ci(confidence_level=0.95, method="wilson").low
    verdict = ">= 99%" if same / n >= 0.99 else "BELOW 99%"
    print(
        f"VERDICT: ONNX int8 agrees with fp32 on the top label for {same / n:.2%} of {n} held-out comments: "
        f"{verdict} (95% lower bound {low:.2%}: {'also' if low >= 0.99 else 'not'} >= 99%)"
    )


def _top_margin(prediction: Prediction) -> float:
    scores = sorted(prediction.scores.values(), reverse=True)
    return scores[0] - scores[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path, default=ROOT / "var" / "bench-models" / "full")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=12, help="optimiser steps per timed ThreeKcal run")
    parser.add_argument("--naive-steps", type=int, default=2, help="optimiser steps per timed naive run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--full-run", action="store_true", help="really fine-tune on 2,000 labels x 3 epochs")
    parser.add_argument(
        "--agree-method",
        choices=("probe", "finetune"),
        default="probe",
        help="probe: fit the head on frozen fp32 features (learns on 2 cores); finetune: end to end",
    )
    parser.add_argument("--probe-train", type=int, default=2800, help="training comments of the probe")
    parser.add_argument(
        "--probe-init",
        choices=("standard", "testmodel"),
        default="standard",
        help="encoder weights under the probe: transformers' standard init, or the test model's as built",
    )
    parser.add_argument("--probe-seed", type=int, default=0)
    parser.add_argument(
        "--probe-head",
        choices=("uniform", "standardised"),
        default="uniform",
        help="dense layer of the head: one scale for all features (int8 holds it exactly) or per feature",
    )
    parser.add_argument("--probe-c", type=float, default=0.1, help="inverse L2 strength of the probe")
    parser.add_argument("--probe-scale", type=float, default=0.5, help="tanh input scale of the head")
    parser.add_argument("--agree-steps", type=int, default=60)
    parser.add_argument("--agree-words", type=int, default=40, help="longest comment of the agreement check")
    parser.add_argument("--agree-lr", type=float, default=1e-4, help="learning rate of the agreement check")
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="ThreeKcal's precision for the goal (auto: as `threekcal train` chooses on this CPU)",
    )
    parser.add_argument("--agreement-texts", type=int, default=1000)
    parser.add_argument("--skip-agreement", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--tiny-agreement", action="store_true", help="also check int8 agreement on a fine-tuned tiny model"
    )
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    print(cpu_line())
    model_dir = ensure_model(args.model_dir)
    if not args.skip_throughput:
        throughput(model_dir, args)
    if not args.skip_agreement:
        if args.agree_method == "probe":
            probe_agreement(model_dir, args, args.threads)
        else:
            agreement(model_dir, args, args.threads)
        print(cpu_line())
    if args.tiny_agreement:
        from threekcal.model.testmodel import build_test_model

        with tempfile.TemporaryDirectory() as scratch:
            agreement(build_test_model(Path(scratch) / "tiny"), args, args.threads, tiny=True)
        print(cpu_line())


def throughput(model_dir: Path, args: argparse.Namespace) -> None:
    from threekcal.model.training import resolve_precision

    default, why = resolve_precision(args.precision)
    examples = labelled(args.steps * BATCH)
    best: dict[str, dict] = {}
    for round_number in range(args.rounds):
        for name in ("fp32", "naive", "bf16"):
            steps = args.naive_steps if name == "naive" else args.steps
            measured = run(model_dir, examples, steps=steps, naive=name == "naive", bf16=name == "bf16")
            print(
                f"round {round_number + 1} {name}: {measured['per_s']:.2f} examples/s "
                f"({measured['cores']:.2f} CPU cores received, load {os.getloadavg()[0]:.2f})",
                flush=True,
            )
            if name not in best or measured["per_s"] > best[name]["per_s"]:
                best[name] = measured
    fp32, naive, bf16 = (best[name]["per_s"] for name in ("fp32", "naive", "bf16"))
    ours = best[default]["per_s"]
    print()
    print(f"fine-tuning throughput, full-size architecture, {args.threads} threads, batch {BATCH}:")
    for name, label in (
        ("fp32", "ThreeKcal fp32 (dynamic padding + length grouping)"),
        ("bf16", "ThreeKcal bf16 mixed precision (same setup)     "),
        ("naive", f"naive fp32 (pad to {NAIVE_PAD}, random order)            "),
    ):
        print(f"  {label}: {best[name]['per_s']:.2f} examples/s ({best[name]['cores']:.2f} cores received)")
    print(f"  bf16 / fp32: {bf16 / fp32:.2f}x")
    print(f"  ThreeKcal's default here: {default} ({why}): {ours:.2f} examples/s, {ours / naive:.1f}x naive")
    if args.full_run:
        full = run(model_dir, labelled(2000), steps=-1, naive=False, epochs=3.0, bf16=default == "bf16")
        minutes, how = full["wall"] / 60, f"measured, {default}, {full['cores']:.2f} cores received"
    else:
        minutes, how = 2000 * 3 / ours / 60, f"{default}, extrapolated from {args.steps * BATCH} examples"
    print(
        f"2,000 labels x 3 epochs: {minutes:.1f} min ({how}) -> goal < {GOAL_MINUTES:g} min "
        f"{'met' if minutes < GOAL_MINUTES else 'MISSED'}"
    )
    print(cpu_line())


if __name__ == "__main__":
    main()
