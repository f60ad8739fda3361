"""Benchmark `textlab sentiment` end to end: N reviews of a labelled set, one per line, piped
through the command (stdin to stdout, as a user would); prints ONE JSON line with accuracy,
reviews/s (wall clock of the whole command, start-up included), model load time, the CPU model
and the load average before and after (other jobs may share the cores).

    python scripts/bench_sentiment.py ../shared/data/aclImdb_v1-text.tar.gz --split test --n 5000
    python scripts/bench_sentiment.py /tmp/chnsenticorp_heldout.csv --model shipped:zh
    python scripts/bench_sentiment.py ../shared/data/aclImdb_v1-text.tar.gz --split test --n 0 --view last

``--view first|last`` scores each review's first / last sentence instead (the short-input view
train-sentiment reports on validation: textlab.sentiment.short_inputs), labelled by its review.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="aclImdb tarball/directory, labelled CSV/TSV or fastText file")
    parser.add_argument("--split", default="test")
    parser.add_argument("--n", type=int, default=5000, help="reviews to score (0 = all)")
    parser.add_argument("--model", default=None, help="model directory (default: what `textlab sentiment` picks)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--view", choices=["full", "first", "last"], default="full",
                        help="score whole reviews, or each review's first / last sentence")
    args = parser.parse_args()

    import numpy as np

    from textlab.data.reviews import iter_reviews
    from textlab.sentiment.pretrained import choose_models
    from textlab.sentiment.saved import load_sentiment

    texts, labels = [], []
    for text, label in iter_reviews(args.data, args.split):
        texts.append(text)
        labels.append(label)
    if args.n:  # a fixed, label-balanced sample: the archive lists reviews grouped by label
        order = np.random.default_rng(0).permutation(len(texts))[: args.n]
        texts, labels = [texts[i] for i in order], [labels[i] for i in order]

    if args.view != "full":
        from textlab.sentiment.short_inputs import view_sentences
        from textlab.text import guess_lang

        texts = [sentence for sentence, _ in view_sentences(texts, guess_lang(texts))[args.view]]
    chosen = choose_models(args.model, "auto")
    load_seconds = max(load_sentiment(path).load_seconds for path in chosen.values())

    from textlab.runtime.machine import machine_info

    machine = machine_info()  # the CPU and the load average before the run
    command = [sys.executable, "-m", "textlab", "sentiment", "--batch-size", str(args.batch_size), "--device", "cpu"]
    if args.model:
        command += ["--model", args.model]
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "reviews.txt"
        source.write_text("".join(t.replace("\n", " ") + "\n" for t in texts), encoding="utf-8")
        env = {**os.environ, "TEXTLAB_NO_PROGRESS": "1"}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        with open(source, "rb") as stdin:
            out = subprocess.run(command, stdin=stdin, stdout=subprocess.PIPE, check=True, env=env).stdout
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    predicted = [1 if line.startswith("positive") else 0 for line in out.decode("utf-8").splitlines()]
    if len(predicted) != len(labels):
        raise SystemExit(f"expected {len(labels)} result lines, got {len(predicted)}")
    accuracy = sum(p == y for p, y in zip(predicted, labels)) / len(labels)
    print(json.dumps({
        "data": str(args.data), "split": args.split, "view": args.view, "n": len(labels), "accuracy": round(accuracy, 4),
        "reviews_per_second": round(len(labels) / seconds, 1), "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2), "reviews_per_cpu_second": round(len(labels) / cpu_seconds, 1),
        "model_load_seconds": round(load_seconds, 3), "models": {k: str(v) for k, v in chosen.items()},
        "cpu_count": os.cpu_count(), "cpu": machine.get("cpu", ""), "cpu_flags": machine.get("flags", []),
        "load_average_before": machine["load_average"][0],
        "load_average": round(os.getloadavg()[0], 2),
        "note": "wall clock incl. process start; cpu_seconds = user+sys of the command and its workers; "
                "other jobs may share the CPU (see load_average)",
    }))


if __name__ == "__main__":
    main()
