"""`textlab sentiment` keeps its memory flat on a long stdin: the resident memory of the real
command after most of the input is not materially above what it was after the first part.

About 500,000 lines stream through the real subprocess (scripts/bench_sentiment_memory.py, the
benchmark that runs the 1 GB case): one generated review in 51 lines, the others whitespace
only (read, batched, sent to the workers and answered with an empty line, but not scored), so
that many lines pass in a few seconds. Keeping anything per line (the smallest leak: one list
slot, 8 bytes) adds over 3.4 MB between the two measurements, keeping the lines read over 25 MB;
the tolerance is 2 MB (measured growth of the command: 0.2 MB here and over 1.2 million lines,
6.6 MB over 1 GB of long reviews). The scoring workers' summed memory may grow 8 MB: measured
1.2-2.9 MB since batches are rounded to few shapes (6.4-7.7 MB before: oneDNN kept a primitive
per rows x steps shape; tests/sentiment/test_batch_shapes.py).

A single huge line is read as its head and tail (a unit test here; by hand, one 200 MB line:
peak RSS 3.9 GB before, 0.43 GB after)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_sentiment_memory.py"
TOLERANCE_MB = 2.0


def test_sentiment_memory_stays_flat_on_a_long_stdin():
    run = subprocess.run([sys.executable, str(SCRIPT), "--mb", "3", "--line-words", "20", "--blanks-per-review", "50",
                          "--interval", "0.05"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["exit_code"] == 0, report["error"]
    assert report["lines_out"] == report["lines_in"] > 450_000
    early, final = report["rss_at_10pct"], report["rss_at_100pct"]
    assert early is not None and early["main_peak_mb"] > 50  # measured the live process, not a stub
    smallest_leak_mb = 8 * 0.9 * report["lines_in"] / 2**20
    assert smallest_leak_mb > 1.5 * TOLERANCE_MB  # the tolerance would catch any per-line leak
    assert final["main_peak_mb"] - early["main_peak_mb"] < TOLERANCE_MB, report
    assert final["tree_peak_mb"] - early["tree_peak_mb"] < 4 * TOLERANCE_MB, report  # the scoring workers too


@settings(max_examples=200, deadline=None)
@given(text=st.text(st.sampled_from("ab \n\r\t世"), max_size=80), part=st.integers(1, 12))
def test_overlong_lines_are_read_as_head_and_tail(text, part):
    """A line is read whole up to 2 * part characters; a longer one as its first and last part
    characters, so a single huge line cannot take memory in proportion to its length."""
    from textlab.sentiment.stdin import read_line

    stream = io.TextIOWrapper(io.BytesIO(text.encode()), encoding="utf-8", newline=None)
    got = []
    while (line := read_line(stream, part)) is not None:
        got.append(line)
    wanted = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    wanted = wanted[:-1] if text.replace("\r", "\n").endswith("\n") or not text else wanted
    assert len(got) == len(wanted)
    for line, whole in zip(got, wanted):
        if len(whole) <= 2 * part:
            assert line == whole
        else:
            assert line == whole[:part] + " " + whole[-part:]
