"""Side-by-side word2vec benchmark: textlab vs gensim on the same tokens, same settings, same
evaluation code. Prints ONE JSON line.

Example: python scripts/bench_w2v.py --max-words 3000000 --epochs 1 --arch skipgram
Distributed textlab (torchrun, gloo on CPU): ... --only textlab --ranks 2

The corpus (default: all 100k IMDb reviews, lowercased, tokenized once with textlab's English
tokenizer) is written as a whitespace-tokenized file, one review per line; both trainers then
read it with white-space splitting (textlab ``--lang none``, gensim ``LineSentence``). Each
trainer runs in its own subprocess so that peak memory (ru_maxrss) is measured separately.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

DEFAULT_IMDB = Path(__file__).resolve().parents[2] / "shared" / "data" / "aclImdb_v1-text.tar.gz"


def iter_reviews(tarball: Path):
    with tarfile.open(tarball, mode="r|*") as archive:
        for member in archive:
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 4 and parts[2] in ("pos", "neg", "unsup") and parts[3].endswith(".txt"):
                yield archive.extractfile(member).read().decode("utf-8", errors="replace").replace("\n", " ")


def prepare_corpus(source: Path, target: Path, max_words: int | None) -> int:
    """Tokenize the reviews once (textlab English tokenizer, lowercased) into ``target``."""
    from textlab.text import TokenizerOptions, tokenize_stream

    words = 0
    with open(target, "w", encoding="utf-8") as out:
        for block in tokenize_stream(iter_reviews(source), TokenizerOptions(lang="en"), workers=2):
            for line in block:
                count = line.count(" ") + 1 if line else 0
                if max_words is not None and words + count > max_words:
                    return words
                if count:
                    out.write(line + "\n")
                    words += count
    return words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_IMDB, help="aclImdb tarball, or an already tokenized text file with --tokenized")
    parser.add_argument("--tokenized", action="store_true", help="--corpus is already whitespace-tokenized")
    parser.add_argument("--max-words", type=int, default=None, help="use only the first N words")
    parser.add_argument("--arch", choices=("skipgram", "cbow"), default="skipgram")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negative", type=int, default=5)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--sample", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=None, help="textlab centre words per step")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--procs", type=int, default=2, help="gensim worker threads")
    parser.add_argument("--workers", type=int, default=0, help="textlab Hogwild worker processes (0 = one per core, as train-w2v does)")
    parser.add_argument("--ranks", type=int, default=1, help="textlab torch.distributed processes (torchrun; gloo on CPU)")
    parser.add_argument("--sync", choices=("sum", "average"), default="sum", help="how --ranks combine their matrices")
    parser.add_argument("--sync-every", type=int, default=1, help="--ranks combine every N chunks of 131,072 words")
    parser.add_argument("--only", choices=("textlab", "gensim"), default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--_run", choices=("textlab", "gensim"), help=argparse.SUPPRESS)
    parser.add_argument("--_file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--_out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._run:
        return run_trainer(args)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_w2v_"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        print(json.dumps(benchmark(args, workdir)))
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def benchmark(args, workdir: Path) -> dict:
    if args.tokenized:
        corpus_file = args.corpus
    else:
        corpus_file = workdir / f"imdb-{args.max_words or 'all'}.txt"
        if not corpus_file.exists():
            prepare_corpus(args.corpus, corpus_file, args.max_words)
    tokens = sum(len(line.split()) for line in open(corpus_file, encoding="utf-8"))
    result = {"corpus": str(corpus_file), "tokens": tokens, "arch": args.arch, "epochs": args.epochs,
              "dim": args.dim, "window": args.window, "negative": args.negative, "min_count": args.min_count,
              "sample": args.sample, "ranks": args.ranks, "sync": args.sync, "sync_every": args.sync_every, "seed": args.seed, "note": "2 shared CPU cores; other jobs may have been running"}
    for tool in ("textlab", "gensim"):
        if args.only and tool != args.only:
            continue
        out = workdir / f"{tool}-{args.arch}"
        command = [sys.executable, __file__, "--_run", tool, "--_file", str(corpus_file), "--_out", str(out)]
        if tool == "textlab" and args.ranks > 1:
            from textlab.distributed import local_torchrun

            command = local_torchrun(args.ranks, *command[1:])
        command += [f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items()
                    if k in ("arch", "epochs", "dim", "window", "negative", "min_count", "sample", "batch_size", "device", "procs", "workers", "sync", "sync_every", "seed") and v is not None]
        started = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True)
        if proc.returncode != 0:
            result[tool] = {"error": proc.stderr.strip().splitlines()[-1:]}
            continue
        figures = json.loads(proc.stdout.strip().splitlines()[-1])
        figures["process_seconds"] = round(time.perf_counter() - started, 2)
        figures["words_per_second"] = round(tokens * args.epochs / figures["train_seconds"])
        figures["process_words_per_second"] = round(tokens * args.epochs / figures["process_seconds"])
        figures["words_per_cpu_second"] = round(tokens * args.epochs / max(figures["train_cpu_seconds"], 1e-9))
        result[tool] = figures
    if "textlab" in result and "gensim" in result and "train_seconds" in result["textlab"] and "train_seconds" in result["gensim"]:
        t, g = result["textlab"], result["gensim"]
        result["ratios"] = {
            "words_per_second": round(t["words_per_second"] / g["words_per_second"], 3),
            "process_words_per_second": round(t["process_words_per_second"] / g["process_words_per_second"], 3),
            "words_per_cpu_second": round(t["words_per_cpu_second"] / g["words_per_cpu_second"], 3),
            "peak_rss": round(t["peak_rss_mb"] / g["peak_rss_mb"], 3),
            "analogy_accuracy_diff": round(t["analogy_accuracy"] - g["analogy_accuracy"], 4),
            "simlex999_diff": round((t["simlex999"] or 0) - (g["simlex999"] or 0), 4),
        }
    return result


def cpu_seconds() -> float:
    """User + system CPU time of this process (all its threads) and of its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_trainer(args) -> None:
    """Runs in a subprocess: train one tool, evaluate with textlab's code, print JSON."""
    import numpy as np

    from textlab.w2v.keyed_vectors import KeyedVectors

    stages = {}
    if args._run == "gensim":
        from gensim.models import Word2Vec as GensimWord2Vec
        from gensim.models.word2vec import LineSentence

        stages["imports"] = peak_rss_mb()
        started = time.perf_counter()
        model = GensimWord2Vec(vector_size=args.dim, window=args.window, negative=args.negative, hs=0,
                               min_count=args.min_count, sample=args.sample, sg=int(args.arch == "skipgram"),
                               workers=args.procs, seed=args.seed)
        model.build_vocab(LineSentence(str(args._file)))
        prepared, cpu_before = time.perf_counter(), cpu_seconds()
        stages["prepared"] = peak_rss_mb()
        model.train(LineSentence(str(args._file)), total_examples=model.corpus_count, epochs=args.epochs)
        trained = time.perf_counter()
        kv = model.wv
        vectors = KeyedVectors(list(kv.index_to_key), np.asarray(kv.vectors, dtype=np.float32))
    else:
        from textlab.distributed import launched_by_torchrun
        from textlab.text import TokenizerOptions
        from textlab.w2v.corpus import encode_corpus
        from textlab.w2v.model import Word2Vec, Word2VecConfig
        from textlab.w2v.train import train

        stages["imports"] = peak_rss_mb()
        if launched_by_torchrun():
            return run_distributed(args, stages)
        started = time.perf_counter()
        corpus = encode_corpus(args._file, TokenizerOptions(lang="none"), min_count=args.min_count)
        config = Word2VecConfig(arch=args.arch, dim=args.dim, window=args.window, negative=args.negative,
                                min_count=args.min_count, sample=args.sample, epochs=args.epochs, lang="none",
                                vocab_size=len(corpus.vocab), workers=args.workers, seed=args.seed)
        if args.batch_size:
            config.batch_size = args.batch_size
        model = Word2Vec(config).to(args.device)
        prepared, cpu_before = time.perf_counter(), cpu_seconds()
        stages["prepared"] = peak_rss_mb()
        train(model, corpus)
        trained = time.perf_counter()
        vectors = KeyedVectors(corpus.vocab.words, model.vectors.detach().cpu().numpy())
    report(vectors, stages, {"prepare_seconds": round(prepared - started, 2), "train_seconds": round(trained - prepared, 2),
                             "train_cpu_seconds": round(cpu_seconds() - cpu_before, 2)})


def run_distributed(args, stages: dict) -> None:
    """One torchrun rank: train through the library call (sharded corpus, averaged model); rank 0
    evaluates the saved model. CPU seconds and memory are rank 0's."""
    from textlab.w2v.keyed_vectors import load_keyed_vectors
    from textlab.w2v.model import Word2VecConfig
    from textlab.w2v.pipeline import train_word2vec

    config = Word2VecConfig(arch=args.arch, dim=args.dim, window=args.window, negative=args.negative,
                            min_count=args.min_count, sample=args.sample, epochs=args.epochs, lang="none", workers=1,
                            seed=args.seed)
    if args.batch_size:
        config.batch_size = args.batch_size
    cpu_before = cpu_seconds()
    summary = train_word2vec(str(args._file), config, args._out, force=True, device=args.device, sync=args.sync,
                             sync_every=args.sync_every)
    if summary["rank"] != 0:
        return
    extra = {k: summary[k] for k in ("prepare_seconds", "train_seconds", "syncs", "sync_seconds", "sync_bytes")}
    report(load_keyed_vectors(args._out), stages, {**extra, "train_cpu_seconds": round(cpu_seconds() - cpu_before, 2),
                                                   "world_size": summary["distributed"]["world_size"]})


def report(vectors, stages: dict, figures: dict) -> None:
    """Evaluate with textlab's code and print the trainer's JSON line."""
    from textlab.w2v.evaluate import evaluate_all

    stages["trained"] = peak_rss_mb()
    figures = {**figures, "vocab_size": len(vectors.words)}
    evaluation = evaluate_all(vectors)
    figures.update({k: v for k, v in evaluation.items() if k not in ("analogy_sections", "analogies", "similarity")})
    figures["peak_rss_mb"] = peak_rss_mb()
    figures["peak_rss_mb_by_stage"] = stages  # peak so far after imports / corpus+vocab / training
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
