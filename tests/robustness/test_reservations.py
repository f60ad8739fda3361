"""Two jobs on one name, in real processes.

* Two trainings with the same ``-o``: the first reserves the name when it starts; the second
  refuses at once, before it reads the corpus, naming the job that holds it (``--force`` does
  not override a running job). A job killed with ``kill -9`` leaves a stale reservation that the
  next job takes over, saying so.
* Two jobs encoding the same corpus into the id-file cache: one encodes, the other waits for it,
  says so, then reuses the finished file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest
import time

from tests.robustness.answers import refused, succeeded
from tests.robustness.faults import write_corpus

ENV = {"TEXTLAB_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
TRAIN = ["--dim", "16", "--min-count", "1", "--lang", "none", "--workers", "1"]


class Job:
    """``python -m textlab ARGS`` in the background; ``wait_for(text)`` until stderr says it."""

    def __init__(self, *args: str, env: dict | None = None):
        self.proc = subprocess.Popen([sys.executable, "-m", "textlab", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env={**os.environ, **ENV, **(env or {})})
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 120) -> None:
        with self.changed:
            ok = self.changed.wait_for(lambda: text in self.stderr or self.proc.poll() is not None, timeout)
        assert ok and text in self.stderr, (text, self.proc.poll(), self.stderr[-2000:])

    def finish(self, timeout: float = 120) -> int:
        code = self.proc.wait(timeout)
        self.reader.join(10)
        return code


def test_a_second_job_on_the_same_name_refuses_at_once_and_a_killed_one_is_taken_over(cli, tmp_path):
    corpus = write_corpus(tmp_path / "corpus.txt", lines=2000)  # 40,000 words a pass
    out = tmp_path / "models" / "same"
    first = Job("train-w2v", corpus, *TRAIN, "--epochs", "1000", "-o", str(out))
    try:
        first.wait_for("training words")  # reserved, encoded, training
        for force in ([], ["--force"]):
            started = time.perf_counter()
            second = cli("train-w2v", corpus, *TRAIN, "--epochs", "1", "-o", str(out), *force)
            line = refused(second, "a second job on the same name", "reserved")
            assert f"pid {first.proc.pid}" in line and str(out) in line, line
            assert second.stderr.strip() == line  # refused before any work: no other line
            assert time.perf_counter() - started < 10
        first.proc.send_signal(signal.SIGKILL)  # no clean-up at all
        first.finish()
    finally:
        if first.proc.poll() is None:
            first.proc.kill()
            first.finish()
    taken = cli("train-w2v", corpus, *TRAIN, "--epochs", "1", "-o", str(out))
    succeeded(taken, "after the first job was killed")
    assert (f"taking over a stale reservation of {out} left by pid {first.proc.pid} (no longer running)"
            in taken.stderr), taken.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["same"]  # no lock file or temporary left


ENCODE = """
import sys
from pathlib import Path
from textlab.text import TokenizerOptions
from textlab.w2v.corpus import encode_corpus
print("ready", flush=True)
sys.stdin.readline()
corpus = encode_corpus(Path(sys.argv[1]), TokenizerOptions(lang="none"), min_count=1)
print(corpus.num_words, corpus.reused, flush=True)
"""


def test_two_jobs_encoding_the_same_corpus_encode_it_once(tmp_path, textlab_home):
    """The second job starts while the first is encoding: it waits for it (and says so) and
    reuses the id file, never reading a half-written one."""
    corpus = write_corpus(tmp_path / "corpus.txt", lines=60_000, words=5000)  # 1.2 M words
    env = {**os.environ, **ENV, "TEXTLAB_HOME": str(textlab_home)}
    jobs = [subprocess.Popen([sys.executable, "-c", ENCODE, corpus], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    try:
        for job in jobs:  # both have imported textlab: what is left is the encoding itself
            assert job.stdout.readline().strip() == "ready", job.stderr.read()
        ids = textlab_home / "cache" / "ids"
        jobs[0].stdin.write("go\n")
        jobs[0].stdin.flush()
        deadline = time.monotonic() + 60
        while not (ids.is_dir() and any(ids.iterdir())) and jobs[0].poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)  # until the first job has begun writing into the cache
        jobs[1].stdin.write("go\n")
        jobs[1].stdin.flush()
        outputs = [job.communicate(timeout=120) for job in jobs]
    finally:
        for job in jobs:
            if job.poll() is None:
                job.kill()
    assert [job.returncode for job in jobs] == [0, 0], outputs
    (first_out, first_err), (second_out, second_err) = outputs
    assert first_err.startswith("encoded ") and first_out.split() == ["1200000", "False"]
    assert second_err.startswith("waiting for another job encoding the same corpus"), second_err
    assert "\nencoded " not in second_err and "reusing the encoded corpus" in second_err
    assert second_out.split() == ["1200000", "True"]
    assert [p.suffix for p in ids.iterdir()] == [".ids"]  # one entry, no lock or temporary left


@pytest.mark.parametrize("command", [
    ["train-w2v", "{corpus}", *TRAIN],
    ["train-charlm", "{corpus}", "--epochs", "1", "--hidden", "8"],
    ["train-lm", "{corpus}", "--epochs", "1", "--hidden", "8", "--embed-dim", "8"],
    ["train-sentiment", "{reviews}", "--epochs", "1"],
])
def test_every_trainer_reserves_its_output_before_it_starts(cli, tmp_path, command):
    """While another job holds the name, each trainer refuses at once, naming that job."""
    from textlab.reservation import reserve_output

    corpus = tmp_path / "corpus.txt"
    write_corpus(corpus)
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("label,review\n1,good fun\n0,bad dull\n" * 10, encoding="utf-8")
    out = tmp_path / "model"
    args = [a.format(corpus=corpus, reviews=reviews) for a in command]
    with reserve_output(out, force=False):
        result = cli(*args, "-o", str(out), "--force")
    refused(result, command[0], "in use", "held", "running", "another job")
    assert not out.exists()
