"""How long a user waits for one line: each advertised command as a fresh process (start-up,
imports, model load, the answer), wall time and peak RSS, next to gensim answering the same
analogy from the same shipped vectors (exported to word2vec's binary format: a process that
imports gensim, loads them with ``KeyedVectors.load_word2vec_format`` and runs ``most_similar``).
The commands run in interleaved rounds (round 1: every command once, round 2: ...), each figure
is the median over rounds, and the store is empty (the shipped models answer). Prints ONE JSON
line with the CPU and the load average before and after.

    python scripts/bench_startup.py --rounds 7
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TEXTLAB = [sys.executable, "-m", "textlab"]
GENSIM_QUERY = """
import sys
from gensim.models import KeyedVectors
kv = KeyedVectors.load_word2vec_format(sys.argv[1], binary=True)
for word, score in kv.most_similar(positive=["king", "woman"], negative=["man"], topn=5):
    print(f"{word}\\t{score:.4f}")
"""


def commands(vectors: Path) -> dict[str, tuple[list[str], str | None]]:
    """name -> (argv, stdin)."""
    return {
        "help": ([*TEXTLAB, "--help"], None),
        "version": ([*TEXTLAB, "--version"], None),
        "analogy": ([*TEXTLAB, "analogy", "king", "man", "woman"], None),
        "neighbors": ([*TEXTLAB, "neighbors", "king"], None),
        "gensim_analogy": ([sys.executable, "-c", GENSIM_QUERY, str(vectors)], None),
        "sentiment_en": ([*TEXTLAB, "sentiment"], "A wonderful, moving film.\n"),
        "sentiment_zh": ([*TEXTLAB, "sentiment"], "这家酒店服务很好\n"),
        "generate": ([*TEXTLAB, "generate", "--seed", "p", "--len", "1000"], None),
    }


def run(argv: list[str], stdin: str | None, env: dict) -> dict:
    """Wall seconds, peak RSS (MB, the kernel's high-water mark of that one process, from
    ``wait4``) and stdout of one process; fails loudly if the command fails."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=err, env=env)
        process.stdin.write((stdin or "").encode("utf-8"))
        process.stdin.close()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {err.read().decode(errors='replace')}")
        return {"seconds": seconds, "rss_mb": usage.ru_maxrss / 1024, "stdout": out.read().decode("utf-8", "replace")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    from textlab.runtime.machine import machine_info

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TEXTLAB_HOME": str(Path(tmp) / "home"), "TEXTLAB_NO_PROGRESS": "1"}
        vectors = Path(tmp) / "shipped-en.bin"
        subprocess.run([*TEXTLAB, "export-w2v", str(vectors), "--binary", "--model", "shipped:en"], env=env,
                       check=True, capture_output=True)
        jobs = commands(vectors)
        for argv, stdin in jobs.values():  # warm the page cache and the caches the commands keep (jieba)
            run(argv, stdin, env)
        machine = machine_info()
        times: dict[str, list[float]] = {name: [] for name in jobs}
        rss: dict[str, float] = {name: 0.0 for name in jobs}
        answers: dict[str, str] = {}
        for _ in range(args.rounds):
            for name, (argv, stdin) in jobs.items():
                result = run(argv, stdin, env)
                times[name].append(result["seconds"])
                rss[name] = round(max(rss[name], result["rss_mb"]), 1)
                answers[name] = result["stdout"].splitlines()[0] if result["stdout"] else ""
        load_after = [round(x, 2) for x in os.getloadavg()]

    seconds = {name: round(statistics.median(values), 3) for name, values in times.items()}
    report = {
        "benchmark": "startup", "rounds": args.rounds, "seconds_median": seconds,
        "seconds_all": {name: [round(v, 3) for v in values] for name, values in times.items()},
        "peak_rss_mb": rss, "first_line": answers,
        "analogy_vs_gensim": round(seconds["analogy"] / seconds["gensim_analogy"], 3),
        "machine": machine, "load_average_after": load_after,
    }
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
