"""Throughput of `textlab tokenize` (stdin to stdout, a real process) on English and Chinese text.

Prints one JSON line: MB/s for English (IMDb reviews) and Chinese (a classic novel), next to
single-process baselines (nltk Treebank, nltk wordpunct, a plain regex, jieba) on the same text.

    python scripts/bench_tokenize.py [--en-mb 20] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def imdb_text(limit_bytes: int) -> bytes:
    parts, size = [], 0
    with tarfile.open(DATA / "aclImdb_v1-text.tar.gz", "r|gz") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".txt") and "/urls_" not in member.name:
                data = tar.extractfile(member).read().replace(b"\n", b" ") + b"\n"
                parts.append(data)
                size += len(data)
                if size >= limit_bytes:
                    break
    return b"".join(parts)


def time_cli(data: bytes, lang: str, workers: int | None) -> float:
    with tempfile.NamedTemporaryFile(delete=False) as handle:
        handle.write(data)
    args = [sys.executable, "-m", "textlab", "tokenize", "--lang", lang]
    if workers:
        args += ["--workers", str(workers)]
    env = dict(os.environ, TEXTLAB_NO_PROGRESS="1")
    start = time.perf_counter()
    with open(handle.name, "rb") as source:
        subprocess.run(args, stdin=source, stdout=subprocess.DEVNULL, check=True, env=env)
    elapsed = time.perf_counter() - start
    os.unlink(handle.name)
    return len(data) / elapsed / 1e6


def time_baseline(text: str, fn) -> float:
    lines = text.splitlines()
    start = time.perf_counter()
    for line in lines:
        fn(line)
    return len(text.encode()) / (time.perf_counter() - start) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--en-mb", type=float, default=20.0)
    parser.add_argument("--zh-file", default=str(DATA / "chinese" / "novels" / "hongloumeng.txt"))
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--no-baselines", action="store_true")
    args = parser.parse_args()

    english = imdb_text(int(args.en_mb * 1e6))
    chinese = Path(args.zh_file).read_bytes()
    result = {
        "cores": os.cpu_count(),
        "en_mb": round(len(english) / 1e6, 1),
        "zh_mb": round(len(chinese) / 1e6, 1),
        "textlab_en_mb_s": round(time_cli(english, "en", args.workers), 2),
        "textlab_zh_mb_s": round(time_cli(chinese, "zh", args.workers), 2),
    }
    if not args.no_baselines:
        import jieba
        from nltk.tokenize import TreebankWordTokenizer, WordPunctTokenizer

        sample = english[: 5_000_000].decode()
        treebank, wordpunct, regex = TreebankWordTokenizer(), WordPunctTokenizer(), re.compile(r"\w+")
        jieba.initialize()
        result.update({
            "nltk_treebank_mb_s": round(time_baseline(sample, treebank.tokenize), 2),
            "nltk_wordpunct_mb_s": round(time_baseline(sample, wordpunct.tokenize), 2),
            "plain_regex_mb_s": round(time_baseline(sample, regex.findall), 2),
            "jieba_single_mb_s": round(time_baseline(chinese[:1_000_000].decode(), jieba.lcut), 2),
        })
    print(json.dumps(result))


if __name__ == "__main__":
    main()
