"""Side-by-side word2vec benchmark, whole job against whole job: ``textlab train-w2v`` (a real
process: encoding the corpus, training, saving) against gensim (reading the corpus, building the
vocabulary, training: ``LineSentence`` and ``corpus_file`` modes) on the same tokens, same
settings, evaluated by the same code. Prints ONE JSON line.

    python scripts/bench_w2v.py --max-words 8000000 --epochs 3 --arch cbow
    python scripts/bench_w2v.py --scale 1 4 --max-vocab 50000 --arch cbow --epochs 1 --only textlab gensim
    python scripts/bench_w2v.py --synthetic 500000000 --arch cbow --epochs 1 --only textlab  # 500M Zipf words
    python scripts/bench_w2v.py --max-words 8000000 --epochs 3 --arch cbow --only textlab --ranks 2  # torchrun

The corpus (default: all 100k IMDb reviews, lowercased, tokenized once with textlab's English
tokenizer) is a whitespace-tokenized file, one review per line; textlab reads it with
``--lang none``. ``--scale N`` repeats it N times; ``--synthetic N`` writes N words drawn from a
Zipf distribution over a 500k-word vocabulary instead (deleted afterwards).

Each trainer runs as its own process; its time is the process's wall time. Memory, two ways:
``peak_rss_mb``, the kernel's high-water mark from ``wait4`` (``ru_maxrss``: the larger of the
process's own peak and that of its largest waited-for child, never a sum; every training worker
of both tools is a thread of the one process), and ``peak_tree_pss_mb``, the largest sum over the
process and all its descendants of their proportional set size (``Pss`` of
``/proc/<pid>/smaps_rollup``: a page shared by k processes, copy-on-write pages of forked
workers included, counts 1/k in each), sampled every 50 ms (``peak_pss_mb``: the process's own,
``processes``: the most seen at once). The JSON names the CPU and the load average before and
after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMDB = REPO.parent / "shared" / "data" / "aclImdb_v1-text.tar.gz"
TOOLS = ("textlab", "gensim", "gensim-corpus-file")


def iter_reviews(tarball: Path):
    """Every review of the aclImdb tarball (train, test and unsup), one line each."""
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


def synthetic_corpus(target: Path, words: int, vocab: int = 500_000, seed: int = 0, exponent: float = 1.1) -> None:
    """``words`` words (``w<rank>``) in lines of 1,000, ranks drawn from Zipf(``exponent``)
    truncated to ``vocab`` (``scripts/gpu_check.py`` writes its corpus with this too)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    names = np.array([f"w{i}" for i in range(vocab + 1)])
    with open(target, "w") as out:
        for start in range(0, words, 1_000_000):
            n = min(1_000_000, words - start)
            ranks = rng.zipf(exponent, size=n)
            ranks[ranks > vocab] = vocab
            lines = names[ranks].reshape(-1, 1000) if n % 1000 == 0 else names[ranks][None, :]
            out.write("\n".join(" ".join(line) for line in lines) + "\n")


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (``/proc/<pid>/task/<tid>/children``; a scan of
    ``/proc/*/stat`` where the kernel lacks that file)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    todo += [int(child) for child in handle.read().split()]
        except FileNotFoundError:
            if not os.path.exists(f"/proc/{current}"):
                continue
            todo += [other for other, parent in _parents().items() if parent == current]
        except OSError:
            continue
    return found


def _parents() -> dict[int, int]:
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as handle:
                    parents[int(name)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    return parents


def _pss_kb(pid: int) -> int | None:
    """The process's proportional set size (kB), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class TreeMemory:
    """Samples, every ``interval`` seconds until :meth:`stop`, the Pss of a process and of its
    descendants: the peaks of their sum and of the process's own, and the most processes seen."""

    def __init__(self, pid: int, interval: float = 0.05):
        import threading

        self.pid, self.interval, self.done = pid, interval, threading.Event()
        self.tree_kb = self.own_kb = self.processes = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.is_set():
            sizes = {pid: _pss_kb(pid) for pid in _descendants(self.pid)}
            alive = [kb for kb in sizes.values() if kb is not None]
            self.tree_kb = max(self.tree_kb, sum(alive))
            self.own_kb = max(self.own_kb, sizes.get(self.pid) or 0)
            self.processes = max(self.processes, len(alive))
            self.done.wait(self.interval)

    def stop(self) -> dict:
        self.done.set()
        self.thread.join()
        return {"peak_tree_pss_mb": round(self.tree_kb / 1024, 1), "peak_pss_mb": round(self.own_kb / 1024, 1),
                "processes": self.processes}


def timed(command: list[str], env: dict | None = None) -> dict:
    """Run one process: wall time, peak RSS (MB, from its rusage: the process or its largest
    child), the peak Pss of its process tree (:class:`TreeMemory`) and CPU seconds (children's
    included), plus the last JSON line it printed."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    memory = TreeMemory(proc.pid)
    out_chunks, err_chunks = [], []
    import threading

    def drain(stream, into):
        for chunk in iter(lambda: stream.read(65536), b""):
            into.append(chunk)

    readers = [threading.Thread(target=drain, args=(proc.stdout, out_chunks)),
               threading.Thread(target=drain, args=(proc.stderr, err_chunks))]
    for reader in readers:
        reader.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    tree = memory.stop()
    for reader in readers:
        reader.join()
    out, err = b"".join(out_chunks).decode(), b"".join(err_chunks).decode()
    result = {"process_seconds": round(seconds, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), **tree,
              "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2)}
    if os.waitstatus_to_exitcode(status) != 0:
        result["error"] = (err.strip().splitlines() or ["?"])[-1][:400]
        return result
    lines = [line for line in out.strip().splitlines() if line.startswith("{")]
    if lines:
        result.update(json.loads(lines[-1]))
    return result


def settings(args) -> dict:
    return {"arch": args.arch, "epochs": args.epochs, "dim": args.dim, "window": args.window,
            "negative": args.negative, "min_count": args.min_count, "max_vocab": args.max_vocab,
            "sample": args.sample, "alpha": args.lr}


def run_textlab(args, corpus: Path, out: Path, home: Path) -> dict:
    launcher = [sys.executable, "-m", "textlab"]
    if args.ranks > 1:  # a torchrun job of --ranks processes, one worker each (peak RSS: the largest process)
        from textlab.distributed import local_torchrun

        launcher = local_torchrun(args.ranks, "-m", "textlab")
    command = [*launcher, "train-w2v", str(corpus), "--lang", "none", "--arch", args.arch,
               "--epochs", str(args.epochs), "--dim", str(args.dim), "--window", str(args.window),
               "--negative", str(args.negative), "--min-count", str(args.min_count), "--sample", str(args.sample),
               "--lr", str(args.lr), "--max-vocab", str(args.max_vocab), "--engine", args.engine,
               "--device", args.device, "--no-cache", "--force",
               "-o", str(out), "--json"]
    if args.workers or args.ranks > 1:
        command += ["--workers", str(args.workers or 1)]
    if args.batch_size:
        command += ["--batch-size", str(args.batch_size)]
    if args.compile != "auto":
        command += ["--compile", args.compile]
    env = {**os.environ, "TEXTLAB_HOME": str(home), "TEXTLAB_NO_PROGRESS": "1"}
    result = timed(command, env)
    keep = ("train_seconds", "encode_seconds", "words_per_second", "engine", "device", "vocab_size", "tokens",
            "step", "step_words", "compile_seconds", "mean_loss")
    return {k: v for k, v in result.items() if k in keep or k in MEASURED}


#: What :func:`timed` measures of every process.
MEASURED = ("process_seconds", "peak_rss_mb", "peak_tree_pss_mb", "peak_pss_mb", "processes", "cpu_seconds", "error")

GENSIM_CHILD = """
import json, sys, time
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence
corpus, out, mode, s = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
started = time.perf_counter()
options = dict(vector_size=s["dim"], window=s["window"], negative=s["negative"], hs=0, min_count=s["min_count"],
               sample=s["sample"], sg=int(s["arch"] == "skipgram"), workers=s["workers"], seed=s["seed"],
               alpha=s["alpha"], epochs=s["epochs"], max_final_vocab=s["max_vocab"] or None)
if mode == "corpus_file":
    model = Word2Vec(corpus_file=corpus, **options)
else:
    model = Word2Vec(LineSentence(corpus), **options)
trained = time.perf_counter()
model.wv.save_word2vec_format(out, binary=True)
print(json.dumps({"job_seconds": round(trained - started, 2), "vocab_size": len(model.wv)}))
"""


def run_gensim(args, corpus: Path, out: Path, mode: str) -> dict:
    options = {**settings(args), "workers": args.procs, "seed": args.seed}
    return timed([sys.executable, "-c", GENSIM_CHILD, str(corpus), str(out), mode, json.dumps(options)])


def evaluate(tool: str, out: Path) -> dict:
    from textlab.w2v.evaluate import evaluate_all
    from textlab.w2v.formats import load_word2vec_format
    from textlab.w2v.keyed_vectors import KeyedVectors, load_keyed_vectors

    if tool == "textlab":
        vectors = load_keyed_vectors(out)
    else:
        words, matrix = load_word2vec_format(out, binary=True)
        vectors = KeyedVectors(words, matrix)
    figures = evaluate_all(vectors)
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in figures.items()
            if k in ("analogy_accuracy", "analogy_seen", "simlex999", "wordsim353")}


def one_corpus(args, corpus: Path, work: Path) -> dict:
    tokens = sum(len(line.split()) for line in open(corpus, encoding="utf-8")) if not args.synthetic else args.synthetic
    result: dict = {"corpus": str(corpus), "tokens": tokens, "bytes": corpus.stat().st_size}
    for tool in args.only:
        out = work / f"{tool}-{args.arch}"
        if tool == "textlab":
            figures = run_textlab(args, corpus, out, work / "home")
        else:
            out = out.with_suffix(".bin")
            figures = run_gensim(args, corpus, out, "corpus_file" if tool == "gensim-corpus-file" else "lines")
        figures["job_words_per_second"] = round(tokens * args.epochs / figures["process_seconds"])
        if "error" not in figures and not args.synthetic:
            figures.update(evaluate(tool, out))
        shutil.rmtree(out, ignore_errors=True) if out.is_dir() else out.unlink(missing_ok=True)
        result[tool] = figures
    tl = result.get("textlab", {})
    for other in ("gensim", "gensim-corpus-file"):
        theirs = result.get(other, {})
        if "process_seconds" in tl and "process_seconds" in theirs and "error" not in tl and "error" not in theirs:
            ratio = {"job_speed": round(theirs["process_seconds"] / tl["process_seconds"], 3),
                     "peak_rss": round(tl["peak_rss_mb"] / theirs["peak_rss_mb"], 3),
                     "peak_tree_pss": round(tl["peak_tree_pss_mb"] / max(theirs["peak_tree_pss_mb"], 0.1), 3)}
            if "analogy_accuracy" in tl and "analogy_accuracy" in theirs:
                ratio["analogy_points"] = round(100 * (tl["analogy_accuracy"] - theirs["analogy_accuracy"]), 2)
                ratio["simlex999"] = round((tl["simlex999"] or 0) - (theirs["simlex999"] or 0), 4)
            result[f"textlab_vs_{other}"] = ratio
    return result


def close_report(report: dict, workdir: Path, keep: bool) -> None:
    """The report's last field (the CPU and load after the runs); the work folder goes unless kept."""
    from textlab.runtime.machine import machine_info

    report["machine_after"] = machine_info()
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)


def build_parser() -> argparse.ArgumentParser:
    """The options (``scripts/bench_device_engine.py`` takes its defaults from here too)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_IMDB, help="aclImdb tarball, or a tokenized text file with --tokenized")
    parser.add_argument("--tokenized", action="store_true", help="--corpus is already whitespace-tokenized")
    parser.add_argument("--max-words", type=int, default=None, help="use only the first N words")
    parser.add_argument("--scale", type=int, nargs="*", default=[1], help="repeat the corpus N times (several: one run each)")
    parser.add_argument("--synthetic", type=int, default=0, help="N Zipf words over 500k word types instead")
    parser.add_argument("--arch", choices=("skipgram", "cbow"), default="skipgram")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negative", type=int, default=5)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--sample", type=float, default=1e-3)
    parser.add_argument("--max-vocab", type=int, default=0, help="keep the N most frequent words (gensim's max_final_vocab); "
                        "with --scale it keeps the vocabulary the same at every size")
    parser.add_argument("--lr", type=float, default=0.025, help="both tools' initial learning rate (gensim's alpha)")
    parser.add_argument("--engine", default="auto", help="textlab --engine")
    parser.add_argument("--device", default="auto", help="textlab --device")
    parser.add_argument("--compile", default="auto", help="textlab --compile (device engine: compiled or eager step)")
    parser.add_argument("--batch-size", type=int, default=0, help="textlab --batch-size (device engine's step)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--procs", type=int, default=2, help="gensim worker threads")
    parser.add_argument("--workers", type=int, default=0, help="textlab --workers (0 = one per core, as train-w2v does)")
    parser.add_argument("--ranks", type=int, default=1, help="run textlab as a torchrun job of N processes "
                        "(distributed word2vec; --workers per rank, default 1)")
    parser.add_argument("--only", nargs="*", choices=TOOLS, default=["textlab", "gensim", "gensim-corpus-file"])
    parser.add_argument("--workdir", type=Path, default=None)
    return parser


def main() -> None:
    args = build_parser().parse_args()

    from textlab.runtime.machine import machine_info

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_w2v_"))
    workdir.mkdir(parents=True, exist_ok=True)
    report: dict = {"settings": settings(args), "machine_before": machine_info(), "engine": args.engine,
                    "gensim_threads": args.procs, "textlab_ranks": args.ranks,
                    "textlab_workers": args.workers or (1 if args.ranks > 1 else "one per core")}
    try:
        if args.synthetic:
            base = workdir / f"zipf-{args.synthetic}.txt"
            synthetic_corpus(base, args.synthetic)
        elif args.tokenized:
            base = args.corpus
        else:
            base = workdir / f"imdb-{args.max_words or 'all'}.txt"
            if not base.exists():
                prepare_corpus(args.corpus, base, args.max_words)
        runs = {}
        for scale in args.scale:
            corpus = base
            if scale > 1:
                corpus = workdir / f"scaled-{scale}.txt"
                with open(corpus, "wb") as out:
                    for _ in range(scale):
                        with open(base, "rb") as part:
                            shutil.copyfileobj(part, out)
            runs[str(scale)] = one_corpus(args, corpus, workdir)
            if corpus != base:
                corpus.unlink()
        report["runs"] = runs
        if len(args.scale) > 1:  # how time and memory grow with the corpus
            first, last = runs[str(args.scale[0])], runs[str(args.scale[-1])]
            report["growth"] = {tool: {"peak_rss_mb": round(last[tool]["peak_rss_mb"] - first[tool]["peak_rss_mb"], 1),
                                       "seconds_ratio": round(last[tool]["process_seconds"] / first[tool]["process_seconds"], 2)}
                                for tool in args.only if "peak_rss_mb" in first.get(tool, {}) and "peak_rss_mb" in last.get(tool, {})}
        if args.synthetic:
            base.unlink(missing_ok=True)
    finally:
        close_report(report, workdir, keep=args.workdir is not None)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
