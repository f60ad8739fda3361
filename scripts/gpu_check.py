"""Every GPU check in one run; prints ONE JSON line. Meant for a machine with one CUDA GPU, from a
fresh clone with nothing but the repository and its install:

    python scripts/gpu_check.py                       # about 8 minutes on one GPU (--skip charlm: 5)
    python scripts/gpu_check.py --w2v-corpus imdb8M.txt   # word2vec quality on a real corpus
    python scripts/gpu_check.py --device cpu --quick  # the same code paths on a CPU in ~2 minutes (a test runs this)

What it measures:
- the CUDA tests (``pytest -m cuda``): passed / failed / skipped;
- word2vec, both engines (the device engine on the GPU, its step compiled and captured as a CUDA
  graph and eager; the hogwild engine on the CPU cores): words/s, the step's size and compile
  seconds, and analogy / simlex999 when the corpus is English text (``--w2v-corpus``, or the
  8M-word IMDb slice of ``scripts/bench_w2v.py`` built from the IMDb tarball when it is at
  hand); without one, a Zipf corpus of ``--w2v-words`` words (speed only);
- the char LSTM: validation loss on tinyshakespeare (shipped) after ``--charlm-minutes`` of
  training with the defaults, its chars/s, and the dtype the recurrent layer really computed in;
- sentiment: training seconds per epoch and inference reviews/s on a synthetic labelled set;
- a 1-process torchrun job (nccl on CUDA, gloo on a CPU) of each distributed trainer.
Each part records its own error instead of stopping the others.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test of every path")
    parser.add_argument("--w2v-corpus", type=Path, default=None, help="whitespace-tokenized English text")
    parser.add_argument("--w2v-words", type=int, default=20_000_000, help="Zipf corpus size without --w2v-corpus")
    parser.add_argument("--w2v-epochs", type=int, default=3)
    parser.add_argument("--charlm-minutes", type=float, default=3.0)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: tests,w2v,charlm,sentiment,ddp")
    args = parser.parse_args()
    if args.quick:
        args.w2v_words, args.w2v_epochs, args.charlm_minutes = min(args.w2v_words, 300_000), 1, min(args.charlm_minutes, 0.15)
    os.environ.setdefault("TEXTLAB_NO_PROGRESS", "1")
    skip = set(filter(None, args.skip.split(",")))
    report: dict = {"device": args.device, "quick": args.quick, "machine": machine(args.device)}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        work = Path(tmp)
        os.environ["TEXTLAB_HOME"] = str(work / "home")
        for name, part in (("tests", cuda_tests), ("w2v", word2vec), ("charlm", charlm), ("sentiment", sentiment),
                           ("ddp", distributed)):
            if name in skip:
                continue
            begin = time.perf_counter()
            try:
                report[name] = part(args, work)
            except Exception as exc:  # one part's failure is a figure too; the others still run
                report[name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
            report[name]["seconds"] = round(time.perf_counter() - begin, 1)
            print(f"gpu_check: {name} done in {report[name]['seconds']} s", file=sys.stderr, flush=True)
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report))


def machine(device: str) -> dict:
    import torch

    from textlab.runtime.machine import machine_info

    info = {"torch": torch.__version__, **machine_info()}
    if device == "cuda" and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, capability=list(torch.cuda.get_device_capability(0)),
                    gpu_memory_gb=round(props.total_memory / 2**30, 1), cuda=torch.version.cuda,
                    cudnn=torch.backends.cudnn.version())
    return info


def cuda_tests(args, work: Path) -> dict:
    """``pytest -m cuda`` (every test that needs CUDA; skipped, never passed, without it)."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider", "tests"],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    counts = {key: int(n) for n, key in re.findall(r"(\d+) (passed|failed|skipped|error|errors|deselected)", proc.stdout)}
    result = {"exit_code": proc.returncode, **counts}
    if proc.returncode not in (0, 5):  # 5: nothing collected
        result["tail"] = proc.stdout[-3000:]
    return result


def _zipf_corpus(path: Path, words: int) -> None:
    """A heavy-headed corpus (Zipf(1.25) over 200k words: the top word is a fifth of the text)."""
    from bench_w2v import synthetic_corpus  # scripts/ is on the path of a script run from it

    synthetic_corpus(path, words, vocab=200_000, seed=0, exponent=1.25)


def _english_corpus(args, work: Path) -> Path | None:
    """``--w2v-corpus``, else (full runs) the 8M-word IMDb slice of ``scripts/bench_w2v.py`` when
    the IMDb tarball is at hand (where the README's quality figures come from), else None."""
    if args.w2v_corpus is not None:
        return args.w2v_corpus
    from bench_w2v import DEFAULT_IMDB, prepare_corpus

    if args.quick or not DEFAULT_IMDB.is_file():
        return None
    corpus = work / "imdb8M.txt"
    prepare_corpus(DEFAULT_IMDB, corpus, 8_000_000)
    return corpus


#: The word2vec runs: (name, engine, --compile, device) with device "gpu" standing for --device.
W2V_RUNS = (("device", "device", "compiled", "gpu"), ("device-eager", "device", "eager", "gpu"),
            ("hogwild", "hogwild", "auto", "cpu"))


def word2vec(args, work: Path) -> dict:
    """Both architectures with the device engine's compiled step (on CUDA: a captured CUDA graph)
    and its eager step on ``--device``, and the hogwild engine on the CPU cores."""
    from textlab.w2v.config import Word2VecConfig
    from textlab.w2v.keyed_vectors import load_keyed_vectors
    from textlab.w2v.pipeline import train_word2vec

    corpus = _english_corpus(args, work)
    english = corpus is not None
    if corpus is None:
        corpus = work / "zipf.txt"
        _zipf_corpus(corpus, args.w2v_words)
    results = {"corpus": str(corpus) if english else f"zipf {args.w2v_words:,} words", "epochs": args.w2v_epochs}
    for arch in ("skipgram", "cbow"):
        for name, engine, mode, where in W2V_RUNS:
            device = args.device if where == "gpu" else "cpu"
            config = Word2VecConfig(arch=arch, epochs=args.w2v_epochs, lang="none", engine=engine, compile=mode)
            out = work / f"w2v-{arch}-{name}"
            summary = train_word2vec(str(corpus), config, out, force=True, device=device)
            figures = {k: summary[k] for k in ("words_per_second", "train_seconds", "encode_seconds", "mean_loss")}
            figures.update({k: summary[k] for k in ("step", "step_words", "compile_seconds") if k in summary})
            if english:
                from textlab.w2v.evaluate import evaluate_all

                quality = evaluate_all(load_keyed_vectors(out))
                figures.update(analogy=quality.get("analogy_accuracy"), simlex999=quality.get("simlex999"))
            results[f"{arch}_{name}_{device}"] = figures
    return results


def charlm(args, work: Path) -> dict:
    """The train-charlm defaults for ``--charlm-minutes``, measured like eval-charlm."""

    from textlab.charlm.data import load_char_data
    from textlab.charlm.evaluate import evaluate_ids
    from textlab.charlm.model import rnn_compute_dtype
    from textlab.charlm.pipeline import plan_setup
    from textlab.charlm.train import train_charlm
    from textlab.runtime.device import pick_device

    device = pick_device(args.device)
    data = load_char_data("tinyshakespeare", 0.1)
    setup = plan_setup(data, device, "lstm", None, args.charlm_minutes, 1, "auto", {}, log=lambda line: None)
    result = train_charlm(data, setup.model, setup.train, device, log=lambda line: print(line, file=sys.stderr))
    measured = evaluate_ids(result.model, data.valid, device)
    return {"val_loss": round(measured["loss"], 4), "val_bpc": round(measured["bpc"], 4),
            "train_chars_per_s": result.metrics["train_chars_per_s"], "epochs": result.metrics["epochs"],
            "precision": setup.train.precision, "rnn_dtype": rnn_compute_dtype(result.model, device, setup.train.precision),
            "model": setup.model.to_dict(), "batch_size": setup.train.batch_size, "seq_len": setup.train.seq_len,
            "minutes": args.charlm_minutes, "setup": setup.decided, "steps": result.metrics["steps"],
            "uniform_loss": round(math.log(len(data.alphabet)), 4)}


def sentiment(args, work: Path) -> dict:
    """Training seconds per epoch and inference reviews/s (made-up reviews, the shipped model)."""
    from textlab.sentiment import gpu_check as sentiment_check

    sizes = {"train_reviews": 1_000, "epochs": 1, "inference_reviews": 1_000} if args.quick else {}
    return sentiment_check(args.device, **sizes)


def distributed(args, work: Path) -> dict:
    """One-process torchrun jobs: the distributed code paths with the real backend."""
    from textlab.distributed import environment_without_torchrun, local_torchrun

    corpus = work / "ddp.txt"
    _zipf_corpus(corpus, 200_000)
    env = environment_without_torchrun()
    env["TEXTLAB_NO_PROGRESS"] = "1"
    results = {}
    for name, command in (
        ("train-w2v", ["train-w2v", str(corpus), "--lang", "none", "--epochs", "1", "--device", args.device,
                       "--compile", "eager", "-o", str(work / "ddp-w2v"), "--json"]),  # the word2vec part compiles
        ("train-charlm", ["train-charlm", "tinyshakespeare", "--max-minutes", "0.2" if not args.quick else "0.05",
                          "--device", args.device, "-o", str(work / "ddp-charlm")]),
    ):
        begin = time.perf_counter()
        proc = subprocess.run(local_torchrun(1, "-m", "textlab", *command), capture_output=True, text=True, env=env,
                              timeout=600)
        results[name] = {"exit_code": proc.returncode, "seconds": round(time.perf_counter() - begin, 1),
                         "last_line": (proc.stderr.strip().splitlines() or [""])[-1][:300]}
        card = work / ("ddp-w2v" if name == "train-w2v" else "ddp-charlm") / "config.json"
        if card.is_file():
            results[name]["distributed"] = json.loads(card.read_text())["data"].get("distributed")
    return results


if __name__ == "__main__":
    main()
