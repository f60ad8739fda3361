"""Benchmark the word LM: train with a time budget exactly as `textlab train-lm` does (the
defaults, --precision auto measured), then measure the held-out documents with the same code as
`textlab eval-lm` beside the unigram baseline of the same vocabulary; print ONE JSON line.

Example: python scripts/bench_lm.py --max-minutes 60

The corpus is the IMDb train split's reviews, labelled and unlabelled (75,000; the test split is
never read), the last 2% of them held out. The JSON line records the CPU (model name, the flags
that decide the arithmetic), the load average before and after, and the precision probe.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

SHARED_IMDB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "aclImdb_v1-text.tar.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(SHARED_IMDB) if SHARED_IMDB.exists() else "imdb",
                        help="imdb, an aclImdb directory or tarball (its train split), or a text corpus")
    parser.add_argument("--max-minutes", type=float, default=60.0)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--valid-fraction", type=float, default=0.02)
    parser.add_argument("--vocab-size", type=int, default=None, help="words kept (default: train-lm's)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default, tuned)")
    parser.add_argument("--seed", type=int, default=1)
    for name in ("embed-dim", "hidden", "layers", "seq-len", "batch-size"):
        parser.add_argument(f"--{name}", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    args = parser.parse_args()

    os.environ.setdefault("TEXTLAB_NO_PROGRESS", "1")
    import torch

    from textlab.runtime.device import pick_device
    from textlab.runtime.machine import machine_info
    from textlab.runtime.seeding import seed_everything
    from textlab.wordlm.config import VOCAB_WORDS
    from textlab.wordlm.data import load_word_data
    from textlab.wordlm.evaluate import evaluate_ids, unigram_perplexity
    from textlab.wordlm.pipeline import plan_setup
    from textlab.wordlm.sample import generate_words
    from textlab.wordlm.train import train_wordlm

    machine_before = machine_info()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    seed_everything(args.seed)
    log = lambda line: print(line, file=sys.stderr)  # noqa: E731
    started = time.perf_counter()
    data = load_word_data(args.corpus, "en", args.vocab_size or VOCAB_WORDS, args.valid_fraction)
    read_seconds = time.perf_counter() - started
    log(f"{data.summary()} read in {read_seconds:.1f} s")
    overrides = {name: getattr(args, name) for name in ("embed_dim", "hidden", "layers", "seq_len", "batch_size", "lr")}
    setup = plan_setup(data, device, None, args.max_minutes, args.seed, args.precision, overrides, log)
    result, _trainer = train_wordlm(data, setup.model, setup.train, device, log=log)
    started = time.perf_counter()
    measured = evaluate_ids(result.model, data.valid, device)  # every held-out word and document end
    eval_seconds = time.perf_counter() - started
    unigram = unigram_perplexity(data.vocab, data.valid)
    model = result.model.to("cpu")
    started = time.perf_counter()
    sample = generate_words(model, data.vocab, "this movie", 50, generator=torch.Generator().manual_seed(1))
    sample_seconds = time.perf_counter() - started
    metrics, info = result.metrics, data.summary()
    print(json.dumps({
        "corpus": args.corpus, "held_out_perplexity": round(measured["perplexity"], 2),
        "unigram_perplexity": round(unigram, 2), "ratio_to_unigram": round(measured["perplexity"] / unigram, 4),
        "held_out_tokens": measured["tokens"], "held_out_documents": info["valid_documents"],
        "held_out_unk_rate": info["valid_unk_rate"], "train_documents": info["train_documents"],
        "train_tokens": info["train_tokens"], "train_unk_rate": info["train_unk_rate"], "vocab_size": info["vocab_size"],
        "train_tokens_per_s": metrics["train_tokens_per_s"], "train_tokens_per_cpu_s": metrics["train_tokens_per_cpu_s"],
        "precision": metrics["precision"], "threads_tuner": metrics["threads"], "parameters": metrics["parameters"],
        "epochs": metrics["epochs"], "steps": metrics["steps"], "minutes": metrics["minutes"],
        "max_minutes": args.max_minutes, "read_s": round(read_seconds, 1), "eval_s": round(eval_seconds, 1),
        "sample_50_words_s": round(sample_seconds, 3), "sample": sample,
        "model": setup.model.to_dict(), "train": {"seq_len": setup.train.seq_len, "batch_size": setup.train.batch_size,
                                                  "lr": setup.train.lr, "max_minutes": round(setup.train.max_minutes, 3)},
        "setup": setup.decided, "device": str(device), "threads": torch.get_num_threads(),
        "machine_before": machine_before, "machine_after": machine_info(),
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
