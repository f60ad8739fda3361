"""The device engine's step, compiled against eager, next to the hogwild engine: each a whole
``textlab train-w2v`` process on the same tokens, settings and evaluation (the helpers and
options of ``scripts/bench_w2v.py``). Prints ONE JSON line.

    python scripts/bench_device_engine.py --tokenized --corpus imdb8M.txt --epochs 3 --arch cbow --device cpu
    python scripts/bench_device_engine.py --max-words 8000000 --epochs 3 --arch skipgram --batch-size 65536

Variants (``--variants``): ``compiled`` and ``eager`` (``--engine device --compile ...``) and
``hogwild``. For each: the process's wall time, training words/s, the step's size, mode and
compile seconds, peak RSS, and analogy / simlex999 / wordsim353; then the speed ratios of
training (compiled over eager, compiled over hogwild) and which variant trained fastest, which
is what ``--device auto`` should pick on that device. The JSON names the CPU and the load
average before and after.
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_w2v import build_parser, close_report, evaluate, prepare_corpus, run_textlab, settings  # noqa: E402

VARIANTS = {"compiled": ("device", "compiled"), "eager": ("device", "eager"), "hogwild": ("hogwild", "auto")}


def main() -> None:
    parser = build_parser()
    parser.set_defaults(epochs=3, device="cpu")
    parser.add_argument("--variants", nargs="*", choices=tuple(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args()

    from textlab.runtime.machine import machine_info

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_device_"))
    workdir.mkdir(parents=True, exist_ok=True)
    report: dict = {"settings": {**settings(args), "batch_size": args.batch_size or "default"},
                    "device": args.device, "machine_before": machine_info()}
    try:
        corpus = args.corpus if args.tokenized else workdir / f"imdb-{args.max_words or 'all'}.txt"
        if not args.tokenized and not corpus.exists():
            prepare_corpus(args.corpus, corpus, args.max_words)
        report["corpus"] = str(corpus)
        runs = {}
        for name in args.variants:
            variant = copy.copy(args)
            variant.engine, variant.compile = VARIANTS[name]
            out = workdir / f"model-{name}"
            figures = run_textlab(variant, corpus, out, workdir / "home")
            if "error" not in figures:
                figures.update(evaluate("textlab", out))
            shutil.rmtree(out, ignore_errors=True)
            runs[name] = figures
        report["runs"] = runs
        rates = {name: run["words_per_second"] for name, run in runs.items() if "words_per_second" in run}
        if rates:
            report["fastest_training"] = max(rates, key=rates.get)
        for other in ("eager", "hogwild"):
            if "compiled" in rates and other in rates:
                report[f"compiled_over_{other}"] = {
                    "training": round(rates["compiled"] / rates[other], 3),
                    "whole_job": round(runs[other]["process_seconds"] / runs["compiled"]["process_seconds"], 3)}
    finally:
        close_report(report, workdir, keep=args.workdir is not None)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
