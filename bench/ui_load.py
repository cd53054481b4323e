"""How fast the web app draws with 100,000 comments (20,000 labelled), and what /stats saves.

Measured in one run, against `threekcal up --no-worker` on a temporary SQLite database:
- API: GET /stats, one GET /comments page (least confident first, with and without the total, and the
  next page by cursor), GET /users;
- the naive baseline: load every row into pandas and compute the same statistics with scikit-learn;
- browser (Debian's Chromium through Playwright): time until the Statistics page and the Label page
  (after logging in) are fully drawn: script run finished, every Plotly chart rendered, table shown.

Goals: /stats < 300 ms; each page fully drawn < 3 s.

    .venv/bin/python bench/ui_load.py [--rows 100000] [--labelled 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

from threekcal.db import accounts
from threekcal.db.session import session_factory
from threekcal.emotions import LABELS

CHROMIUM = os.environ.get("THREEKCAL_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]  # fmt: skip
TOKEN = "bench-admin-token-0123456789abcdef"
ADMIN_NAME, ADMIN_PASSWORD = "bench", "bench-admin-password"  # the web app signs in with an account
STATS_GOAL_MS = 300
PAGE_GOAL_S = 3.0
DRAWN_JS = """() => !document.querySelector('[data-testid="stSkeleton"]')
    && !Array.from(document.querySelectorAll('[data-testid="stStatusWidget"]'))
        .some(widget => widget.innerText.includes('Running'))
    && Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]')).length > 0
    && Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
        .every(chart => chart.querySelector('.main-svg'))"""


def fill_database(url: str, rows: int, labelled: int, seed: int = 7) -> float:
    """Comments as the pipeline leaves them: all predicted, ``labelled`` of them with a true label."""
    from sqlalchemy import insert

    from threekcal.db import migrate
    from threekcal.db.models import Comment
    from threekcal.db.session import engine_for

    started = time.perf_counter()
    migrate.upgrade(url)
    rng = np.random.default_rng(seed)
    truth = rng.integers(len(LABELS), size=rows)
    boost = rng.uniform(0, 5, size=rows)
    alpha = np.ones((rows, len(LABELS)))
    alpha[np.arange(rows), truth] += boost
    probabilities = np.array([rng.dirichlet(row) for row in alpha])
    predicted = probabilities.argmax(axis=1)
    labelled_rows = set(rng.choice(rows, size=labelled, replace=False).tolist())
    start = datetime(2026, 9, 1, tzinfo=UTC)
    users = [f"user{index:03d}" for index in range(500)]
    batch = []
    engine = engine_for(url)
    with engine.begin() as connection:
        for index in range(rows):
            moment = start + timedelta(seconds=int(index * 60 * 24 * 60 * 60 / rows))
            scores = {
                label: round(float(value), 6)
                for label, value in zip(LABELS, probabilities[index], strict=True)
            }
            is_labelled = index in labelled_rows
            batch.append(
                {
                    "comments": f"bench comment {index}: the weather and {LABELS[truth[index]]}",
                    "request_user": users[index % len(users)],
                    "request_time": moment,
                    "receipt": secrets.token_urlsafe(24),
                    "prediction_result": LABELS[predicted[index]],
                    "prediction_score": scores[LABELS[predicted[index]]],
                    "prediction_scores": scores,
                    "prediction_time": moment + timedelta(seconds=5),
                    "model_version": "bench",
                    "label": LABELS[truth[index]] if is_labelled else None,
                    "labeled_by": "admin" if is_labelled else None,
                    "labeled_at": moment + timedelta(hours=1) if is_labelled else None,
                }
            )
            if len(batch) == 10_000:
                connection.execute(insert(Comment), batch)
                batch = []
        if batch:
            connection.execute(insert(Comment), batch)
    return time.perf_counter() - started


def naive_statistics(url: str) -> dict:
    """What the statistics page would cost without /stats: every row into pandas, then scikit-learn."""
    import pandas as pd
    from sklearn.metrics import (
        accuracy_score,
        auc,
        average_precision_score,
        classification_report,
        confusion_matrix,
        precision_recall_curve,
        roc_curve,
    )

    from threekcal.db.session import engine_for

    frame = pd.read_sql("SELECT * FROM comments", engine_for(url))
    frame["prediction_scores"] = frame["prediction_scores"].map(
        lambda value: json.loads(value) if value else None
    )
    predicted = frame[frame["prediction_result"].notna()]
    both = predicted[predicted["label"].notna()]
    y_true, y_pred = both["label"], both["prediction_result"]
    result = {
        "accuracy": accuracy_score(y_true, y_pred),
        "matrix": confusion_matrix(y_true, y_pred, labels=list(LABELS)),
        "report": classification_report(
            y_true, y_pred, labels=list(LABELS), zero_division=0, output_dict=True
        ),
        "histogram": {
            label: np.histogram(
                predicted.loc[predicted["prediction_result"] == label, "prediction_score"], 20, (0, 1)
            )
            for label in LABELS
        },
    }
    probabilities = np.array([[scores[label] for label in LABELS] for scores in both["prediction_scores"]])
    for index, label in enumerate(LABELS):
        truth = (y_true == label).to_numpy()
        fpr, tpr, _ = roc_curve(truth, probabilities[:, index])
        precision_recall_curve(truth, probabilities[:, index])
        result[f"auc_{label}"] = auc(fpr, tpr)
        result[f"ap_{label}"] = average_precision_score(truth, probabilities[:, index])
    confidence = both["prediction_score"].to_numpy()
    bins = np.minimum((confidence * 10).astype(int), 9)
    correct = (y_true == y_pred).to_numpy()
    result["ece"] = sum(
        (bins == b).sum() / len(both) * abs(correct[bins == b].mean() - confidence[bins == b].mean())
        for b in range(10)
        if (bins == b).any()
    )
    frame["day"] = pd.to_datetime(frame["request_time"]).dt.date
    result["timeline"] = frame.groupby(["day", "prediction_result"]).size()
    result["per_user"] = both.assign(correct=correct).groupby("request_user")["correct"].agg(["size", "sum"])
    return result


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def timed_after(prepare: Callable[[], object], action: Callable[[], object], repeat: int) -> list[float]:
    """Time ``action`` only, each time after an untimed ``prepare``."""
    times = []
    for _ in range(repeat):
        prepare()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def label_changer(api: httpx.Client) -> Callable[[], None]:
    """Each call relabels one comment (through the API, audited), so /stats must be computed again."""
    turns = iter(range(10**9))

    def change() -> None:
        turn = next(turns)
        body = {"label": LABELS[turn % len(LABELS)], "remark": "bench"}
        api.put(f"/comments/{turn + 1}/label", json=body).raise_for_status()

    return change


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_up(workdir: Path, url: str) -> tuple[subprocess.Popen[bytes], str, str]:
    api_port, ui_port = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("THREEKCAL_")}
    env.update(
        THREEKCAL_ENV="development",
        THREEKCAL_DATABASE_URL=url,
        THREEKCAL_ADMIN_TOKEN=TOKEN,
        THREEKCAL_LOG_DIR=str(workdir / "logs"),
        THREEKCAL_VAR_DIR=str(workdir / "var"),
        THREEKCAL_LANG="en",
    )
    log_path = workdir / "up.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "threekcal.cli", "up", "--no-worker",
             "--api-port", str(api_port), "--ui-port", str(ui_port)],
            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    deadline = time.monotonic() + 180
    while "ThreeKcal is running" not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            sys.exit(f"threekcal up did not start:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.5)
    return process, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}"


def browser_timings(ui_url: str, change_label: Callable[[], None]) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    results: dict[str, float] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(120_000)
        page = context.new_page()

        def statistics_load(name: str, before: Callable[[], None] | None = None) -> None:
            if before is not None:
                before()
            started = time.perf_counter()
            page.goto(f"{ui_url}/statistics")
            page.get_by_test_id("stMetric").filter(has_text="Accuracy").first.wait_for()
            page.wait_for_function(DRAWN_JS, polling=50)
            results[name] = time.perf_counter() - started

        statistics_load("statistics, first visit (cold browser cache)")
        statistics_load("statistics, reload")
        statistics_load("statistics, reload again")
        statistics_load("statistics, reload after a label change", before=change_label)

        started = time.perf_counter()
        page.goto(f"{ui_url}/label")
        page.get_by_label("Password", exact=True).wait_for()
        results["label, login form"] = time.perf_counter() - started
        page.get_by_label("Username", exact=True).fill(ADMIN_NAME)
        page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
        started = time.perf_counter()
        page.get_by_label("Password", exact=True).press("Enter")
        page.get_by_text("rows shown").wait_for()
        page.get_by_test_id("stDataFrame").first.locator("canvas").first.wait_for()
        page.wait_for_function(DRAWN_JS, polling=50)
        results["label, after login: table of 50 + editor drawn"] = time.perf_counter() - started
        started = time.perf_counter()
        page.get_by_role("button", name="Next").click()
        page.get_by_text("Page 2 ·").wait_for()
        page.wait_for_function(DRAWN_JS, polling=50)
        results["label, next page"] = time.perf_counter() - started
        context.close()
        browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--labelled", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="threekcal-bench-") as tmp:
        workdir = Path(tmp)
        url = f"sqlite:///{workdir / 'bench.db'}"
        print(f"filling {args.rows:,} comments ({args.labelled:,} labelled) …", flush=True)
        fill_seconds = fill_database(url, args.rows, args.labelled)
        print(f"  done in {fill_seconds:.1f} s")
        with session_factory(url)() as session:
            accounts.create_user(session, ADMIN_NAME, role="admin", password=ADMIN_PASSWORD)

        naive_statistics(url)  # warm-up: imports and the file cache, as the API gets below
        naive = timed(lambda: naive_statistics(url), max(1, args.repeat // 2))
        process, api_url, ui_url = start_up(workdir, url)
        try:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            with httpx.Client(base_url=api_url, headers=headers, timeout=60) as api:
                started = time.perf_counter()
                first_stats = api.get("/stats").raise_for_status().json()
                first_stats_seconds = time.perf_counter() - started
                assert first_stats["counts"]["total"] == args.rows, first_stats["counts"]
                change_label = label_changer(api)
                api_times = {
                    "GET /stats, first call": [first_stats_seconds],
                    "GET /stats, unchanged data (API cache)": timed(
                        lambda: api.get("/stats").raise_for_status(), args.repeat
                    ),
                    "GET /stats after a label change (recomputed)": timed_after(
                        change_label, lambda: api.get("/stats").raise_for_status(), args.repeat
                    ),
                    "GET /comments least_confident, 50, with total": timed(
                        lambda: api.get(
                            "/comments", params={"sort": "least_confident", "limit": 50, "with_total": "true"}
                        ).raise_for_status(),
                        args.repeat,
                    ),
                    "GET /comments least_confident, 50": timed(
                        lambda: api.get(
                            "/comments", params={"sort": "least_confident", "limit": 50}
                        ).raise_for_status(),
                        args.repeat,
                    ),
                }
                cursor = api.get("/comments", params={"sort": "least_confident", "limit": 50}).json()[
                    "next_cursor"
                ]
                api_times["GET /comments next page (cursor)"] = timed(
                    lambda: api.get(
                        "/comments", params={"sort": "least_confident", "limit": 50, "cursor": cursor}
                    ).raise_for_status(),
                    args.repeat,
                )
                api_times["GET /comments unlabeled + text search, 50"] = timed(
                    lambda: api.get(
                        "/comments",
                        params={"labeled": "false", "q": "weather", "limit": 50, "with_total": "true"},
                    ).raise_for_status(),
                    args.repeat,
                )
                api_times["GET /users 200"] = timed(
                    lambda: api.get("/users", params={"limit": 200}).raise_for_status(), args.repeat
                )
                page_times = browser_timings(ui_url, change_label) if Path(CHROMIUM).exists() else {}
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)

    stats_ms = statistics.median(api_times["GET /stats after a label change (recomputed)"]) * 1000
    naive_ms = statistics.median(naive) * 1000
    print(f"\nThreeKcal UI load benchmark: {args.rows:,} comments, {args.labelled:,} labelled, SQLite, "
          f"{os.cpu_count()} CPUs, median of {args.repeat}")  # fmt: skip
    print(f"\n{'API call':55} {'median ms':>10} {'min ms':>8}")
    for name, times in api_times.items():
        print(f"{name:55} {statistics.median(times) * 1000:10.1f} {min(times) * 1000:8.1f}")
    print(f"{'naive: all rows into pandas + scikit-learn':55} {naive_ms:10.1f} {min(naive) * 1000:8.1f}")
    print(f"\n/stats recomputed is {naive_ms / stats_ms:.1f}x faster than the naive way; "
          f"goal /stats < {STATS_GOAL_MS} ms: {'met' if stats_ms < STATS_GOAL_MS else 'MISSED'}")  # fmt: skip
    if page_times:
        print(f"\n{'browser (Chromium): fully drawn':55} {'seconds':>10} {'goal':>8}")
        for name, seconds in page_times.items():
            verdict = "met" if seconds < PAGE_GOAL_S else "MISSED"
            print(f"{name:55} {seconds:10.2f} {verdict:>8}")
    else:
        print(f"\nbrowser timings skipped: {CHROMIUM} is missing")


if __name__ == "__main__":
    main()
