"""Does `textlab sentiment` keep memory flat on a huge stdin? Streams N MB of generated review
lines (made on the fly, never stored on disk) through `python -m textlab sentiment` with the
shipped English model, samples the resident memory of the command (and of its scoring workers)
and prints ONE JSON line: peak RSS after 10%, 50% and 100% of the input, lines/s and MB/s.

    python scripts/bench_sentiment_memory.py --mb 1024
    python scripts/bench_sentiment_memory.py --mb 1024 --max-seconds 600   # stops feeding after 10 min
    python scripts/bench_sentiment_memory.py --mb 20 --line-words 20 --batch-size 256
    python scripts/bench_sentiment_memory.py --mb 12 --blanks-per-review 50   # many cheap lines

With ``--max-seconds`` the input ends early (stdin is closed) and the percentages refer to what
was actually fed ("input_mb").

RSS comes from psutil when installed, else /proc/<pid>/status (VmRSS, VmHWM). "main" is the
`textlab sentiment` process (reader, batching, output); "tree" adds its forked workers (their
pages shared with the parent are counted once per process, so it overstates the total).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHIPPED_EN = REPO / "textlab" / "pretrained" / "sentiment" / "en"
MB = 1 << 20

POSITIVE = ("wonderful", "moving", "brilliant", "superb", "delightful", "great", "charming", "touching",
            "masterpiece", "loved", "funny", "beautiful", "excellent", "memorable", "gripping")
NEGATIVE = ("boring", "awful", "dull", "terrible", "waste", "mess", "predictable", "bland", "worst",
            "poorly", "annoying", "clumsy", "forgettable", "tedious", "stupid")
FILLER = ("the", "film", "movie", "a", "and", "of", "to", "is", "was", "it", "this", "in", "that", "plot",
          "acting", "story", "characters", "director", "scene", "ending", "really", "very", "but", "not",
          "i", "with", "for", "as", "on", "his", "her", "they", "cast", "music", "script", "!", ",", ".")


WHITESPACE = ("  ", " \t", "\t ", "   ", "\t\t", " \t ", "    ")  # 2+ characters: a new str per line read


def review_lines(total_bytes: int, line_words: int, seed: int = 0, blanks_per_review: int = 0):
    """Blocks of generated one-line reviews (bytes), ``total_bytes`` in all (the last line is cut
    short to hit it exactly, then ends with a newline). Lengths vary from 1/4 to 7/4 of
    ``line_words`` words; each review leans positive or negative. ``blanks_per_review``
    whitespace-only lines follow each review: they are read, batched and answered (with an
    empty line) but not scored, which makes many lines cheap (per-line bookkeeping)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    blanks = "".join(WHITESPACE[i % len(WHITESPACE)] + "\n" for i in range(blanks_per_review))
    words = np.array(FILLER + POSITIVE + NEGATIVE, dtype=object)
    filler, positive = len(FILLER), len(POSITIVE)
    sent = 0
    while sent < total_bytes:
        lines = []
        for _ in range(256):
            n = int(rng.integers(max(1, line_words // 4), max(2, 7 * line_words // 4)))
            leaning = filler + (0 if rng.random() < 0.5 else positive)
            mask = rng.random(n) < 0.15  # about one word in seven carries the sentiment
            picks = np.where(mask, rng.integers(leaning, leaning + positive, n), rng.integers(0, filler, n))
            lines.append(" ".join(words[picks]) + "\n" + blanks)
        block = "".join(lines).encode()
        if sent + len(block) > total_bytes:
            block = block[: total_bytes - sent - 1] + b"\n"
        sent += len(block)
        yield block


def memory_kb(pid: int) -> dict[str, int]:
    """{"rss": kB, "hwm": kB} of one process (0 when it is gone)."""
    try:
        import psutil

        info = psutil.Process(pid).memory_info()
        peak = getattr(info, "peak_wset", None) or 0
        return {"rss": info.rss // 1024, "hwm": max(peak // 1024, info.rss // 1024)}
    except ImportError:
        pass
    except Exception:
        return {"rss": 0, "hwm": 0}
    values = {"rss": 0, "hwm": 0}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    values["rss"] = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    values["hwm"] = int(line.split()[1])
    except OSError:
        pass
    return values


def children(pid: int) -> list[int]:
    try:
        import psutil

        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except ImportError:
        pass
    except Exception:
        return []
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            for task in os.listdir(f"/proc/{parent}/task"):
                with open(f"/proc/{parent}/task/{task}/children") as listing:
                    kids = [int(k) for k in listing.read().split()]
                found += kids
                todo += kids
        except OSError:
            continue
    return found


class Sampler(threading.Thread):
    """Samples the main process's RSS and the tree's summed RSS every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.main_peak = self.tree_peak = 0
        self.main_now = 0
        self.done = threading.Event()

    def sample(self) -> None:
        main = memory_kb(self.pid)
        tree = main["rss"] + sum(memory_kb(child)["rss"] for child in children(self.pid))
        self.main_now = main["rss"] or self.main_now
        self.main_peak = max(self.main_peak, main["hwm"], main["rss"])
        self.tree_peak = max(self.tree_peak, tree)

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.sample()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1024, help="MB of input to stream (default 1024)")
    parser.add_argument("--line-words", type=int, default=120, help="mean words per review line")
    parser.add_argument("--blanks-per-review", type=int, default=0,
                        help="whitespace-only lines after each review (cheap lines: per-line bookkeeping)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--model", default=str(SHIPPED_EN), help="sentiment model (default: shipped English)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between memory samples")
    parser.add_argument("--max-seconds", type=float, default=None, help="stop feeding input after this long")
    args = parser.parse_args()

    total = int(args.mb * MB)
    command = [sys.executable, "-m", "textlab", "sentiment", "--model", args.model, "--batch-size", str(args.batch_size)]
    python_path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "TEXTLAB_NO_PROGRESS": "1", "PYTHONPATH": python_path}
    start = time.perf_counter()
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    sampler = Sampler(child.pid, args.interval)
    sampler.start()
    state = {"bytes_in": 0, "lines_in": 0, "error": None, "stopped_early": False}

    def feed() -> None:
        try:
            for block in review_lines(total, args.line_words, blanks_per_review=args.blanks_per_review):
                if args.max_seconds and time.perf_counter() - start > args.max_seconds:
                    state["stopped_early"] = True
                    break
                child.stdin.write(block)
                state["bytes_in"] += len(block)
                state["lines_in"] += block.count(b"\n")
        except BrokenPipeError as exc:
            state["error"] = f"stdin closed early: {exc}"
        finally:
            try:
                child.stdin.close()
            except BrokenPipeError:
                pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    stderr_tail: list[bytes] = []
    errors = threading.Thread(target=lambda: stderr_tail.extend(child.stderr.readlines()[-5:]), daemon=True)
    errors.start()

    # Progress is measured on the output side (results printed): a snapshot of the memory
    # figures every 1% of the planned input, by the lines answered (bytes estimated from the
    # mean bytes per line fed so far).
    snapshots: list[dict] = []
    lines_out = 0
    first_result = None
    for _ in child.stdout:
        lines_out += 1
        if first_result is None:
            first_result = time.perf_counter() - start
        if lines_out & 255 == 0 and state["lines_in"]:
            done_bytes = lines_out * state["bytes_in"] / state["lines_in"]
            if done_bytes >= (len(snapshots) + 1) * total / 100:
                sampler.sample()
                snapshots.append({"input_mb": round(done_bytes / MB, 1),
                                  "main_rss_mb": round(sampler.main_now / 1024, 1),
                                  "main_peak_mb": round(sampler.main_peak / 1024, 1),
                                  "tree_peak_mb": round(sampler.tree_peak / 1024, 1),
                                  "seconds": round(time.perf_counter() - start, 1)})
        if lines_out == state["lines_in"] and not writer.is_alive():
            sampler.sample()  # the last moment the process certainly still exists
    final_main_now, final = sampler.main_now, {"main_peak_mb": round(sampler.main_peak / 1024, 1),
                                               "tree_peak_mb": round(sampler.tree_peak / 1024, 1)}
    code = child.wait()
    seconds = time.perf_counter() - start
    sampler.done.set()
    writer.join()
    errors.join()
    final.update(input_mb=round(state["bytes_in"] / MB, 1), main_rss_mb=round(final_main_now / 1024, 1),
                 seconds=round(seconds, 1))

    def at(fraction: float) -> dict | None:
        """The first snapshot at or past ``fraction`` of the input actually fed."""
        wanted = fraction * state["bytes_in"] / MB
        return next((snap for snap in snapshots if snap["input_mb"] >= wanted), None)

    ten, half = at(0.1), at(0.5)
    print(json.dumps({
        "benchmark": "sentiment_memory", "model": args.model, "input_mb": round(state["bytes_in"] / MB, 1),
        "lines_in": state["lines_in"], "lines_out": lines_out, "exit_code": code,
        "error": b"".join(stderr_tail).decode(errors="replace").strip()[-300:] if code else state["error"],
        "planned_mb": args.mb, "stopped_early": state["stopped_early"],
        "batch_size": args.batch_size, "mean_line_words": args.line_words,
        "blanks_per_review": args.blanks_per_review,
        "rss_at_10pct": ten, "rss_at_50pct": half, "rss_at_100pct": final,
        "growth_10_to_100_mb": round(final["main_peak_mb"] - (ten or final)["main_peak_mb"], 1),
        "tree_growth_10_to_100_mb": round(final["tree_peak_mb"] - (ten or final)["tree_peak_mb"], 1),
        "seconds": round(seconds, 1), "first_result_seconds": round(first_result or 0, 2),
        "lines_per_second": round(lines_out / seconds, 1), "mb_per_second": round(state["bytes_in"] / MB / seconds, 2),
        "cpu_count": os.cpu_count(), "memory_source": "psutil" if _has_psutil() else "/proc/<pid>/status",
    }))


def _has_psutil() -> bool:
    try:
        import psutil  # noqa: F401

        return True
    except ImportError:
        return False


if __name__ == "__main__":
    main()
