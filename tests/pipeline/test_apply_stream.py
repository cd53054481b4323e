"""The apply reads a log chunk by chunk (bounded memory): several chunks, each its own transaction, the
newest prediction still wins across chunks, every quarantined line still in the quarantine file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline_helpers import add_comments, batch_rows, comment_rows, record, register_log, write_log_lines

from threekcal.pipeline import logfiles
from threekcal.pipeline.apply import apply_logs
from threekcal.pipeline.checkpoints import APPLY_CHUNK_COMMITTED
from threekcal.pipeline.records import iter_log_chunks
from threekcal.settings import Settings

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
RUN = "run-a"


def test_log_chunks_hold_chunk_records_valid_lines_each(tmp_path: Path) -> None:
    lines = [json.dumps(record(num, RUN, when=T0)) for num in range(1, 8)]
    lines.insert(3, "garbage")
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    chunks = list(iter_log_chunks(path, RUN, chunk_records=3))
    assert [[item.num for item in chunk.records] for chunk in chunks] == [[1, 2, 3], [4, 5, 6], [7]]
    # a bad line goes with the chunk being read when it comes (here, just after the first is full)
    assert [[line.line_no for line in chunk.quarantined] for chunk in chunks] == [[4], [], []]
    assert [chunk.valid_lines for chunk in chunks] == [3, 3, 1]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert [chunk.records for chunk in iter_log_chunks(empty, RUN, chunk_records=3)] == [[]]


def test_apply_streams_a_log_in_chunks_and_keeps_the_newest_across_them(settings: Settings) -> None:
    nums = add_comments(settings.database_url, [f"t{i}" for i in range(5)])
    lines = [json.dumps(record(num, RUN, "joy", when=T0)) for num in nums]
    lines.insert(2, "not json")
    # nums[0] again, newer, in the last chunk; nums[1] again, older, in the last chunk
    lines.append(json.dumps(record(nums[0], RUN, "fear", when=T0 + timedelta(seconds=1))))
    lines.append(json.dumps(record(nums[1], RUN, "anger", when=T0 - timedelta(seconds=1))))
    relpath = write_log_lines(settings.log_dir, RUN, lines)
    register_log(settings.database_url, RUN, relpath, 7, nums[0], nums[-1])
    reached: list[str] = []
    seen: list[tuple[int, int]] = []
    report = apply_logs(
        settings,
        chunk_size=2,
        checkpoint=reached.append,
        progress=lambda _run, done, total: seen.append((done, total)),
    )
    assert reached.count(APPLY_CHUNK_COMMITTED) == 3  # 4 chunks of at most 2 records: 3 before the last
    assert seen == [(2, 7), (4, 7), (6, 7), (7, 7)]
    rows = comment_rows(settings.database_url)
    assert [rows[num]["prediction_result"] for num in nums] == ["fear", "joy", "joy", "joy", "joy"]
    [result] = report.batches
    assert (result.records, result.quarantined, result.unknown_nums) == (7, 1, 0)
    batch = batch_rows(settings.database_url)[RUN]
    assert batch["details"]["valid_lines"] == 7 and "apply_progress" not in batch["details"]
    quarantine = logfiles.quarantine_path(settings.log_dir, RUN).read_text().splitlines()
    assert [json.loads(line)["line_no"] for line in quarantine] == [3]


def test_a_stopped_streamed_apply_resumes_and_still_writes_the_whole_quarantine(settings: Settings) -> None:
    nums = add_comments(settings.database_url, [f"t{i}" for i in range(6)])
    lines = [json.dumps(record(num, RUN, when=T0)) for num in nums]
    lines.insert(1, "bad line in the first chunk")
    relpath = write_log_lines(settings.log_dir, RUN, lines)
    register_log(settings.database_url, RUN, relpath, 6, nums[0], nums[-1])
    answers = iter([False, False, True])  # the batch, chunk 1, then stop before chunk 2
    first = apply_logs(settings, chunk_size=2, should_stop=lambda: next(answers, True))
    assert first.stopped
    assert not logfiles.quarantine_path(settings.log_dir, RUN).exists()  # published with the last chunk
    second = apply_logs(settings, chunk_size=2)
    assert [(b.applied_rows, b.records, b.quarantined) for b in second.batches] == [(6, 6, 1)]
    quarantine = logfiles.quarantine_path(settings.log_dir, RUN).read_text().splitlines()
    assert [json.loads(line)["line_no"] for line in quarantine] == [2]
    assert all(row["prediction_result"] == "joy" for row in comment_rows(settings.database_url).values())
