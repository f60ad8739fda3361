"""Load: eight ``sentiment`` and ``neighbors`` processes at once (on however few cores the
machine has, 2 in CI) all answer, each exactly as a lone run does. (A ``sentiment`` reading a
long stdin in flat memory: tests/robustness/test_memory.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
import time

QUERIES = [
    ["sentiment", "a wonderful, moving film"],
    ["sentiment", "the plot was dull and the acting was terrible"],
    ["sentiment", "这家酒店很干净，服务很好"],
    ["sentiment", "外卖送得太慢了，菜也凉了"],
    ["neighbors", "king", "-k", "5"],
    ["neighbors", "movie", "-k", "5", "--json"],
    ["neighbors", "国王", "-k", "5"],
    ["analogy", "king", "man", "woman", "-k", "3"],
]


def test_eight_processes_at_once_all_answer_correctly(cli, textlab_home):
    expected = []
    for query in QUERIES:
        alone = cli(*query)
        assert alone.exit_code == 0, (query, alone.stderr)
        expected.append(alone.stdout)
    env = {**os.environ, "TEXTLAB_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "textlab", *query], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for query in QUERIES]
    try:
        results = [proc.communicate(timeout=240) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    seconds = time.perf_counter() - started
    for query, proc, (stdout, stderr), answer in zip(QUERIES, procs, results, expected):
        assert proc.returncode == 0, (query, stderr)
        assert "error" not in stderr.lower() and "Traceback" not in stderr, (query, stderr)
        assert stdout == answer, (query, stdout, answer)
    assert seconds < 180, seconds
