"""Commands: train-w2v, neighbors, analogy, eval-w2v, export-w2v, import-w2v, plot-w2v."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, List, Literal, Optional

import typer

from textlab.cli.app import app, echo_json
from textlab.cli.options import Device, Force, JsonOutput, Lang, ModelName, OutputModel, Resume, Seed


def _opt(*names: str, help: str, **kw):
    return typer.Option(*names, help=help, **kw)


@app.command("train-w2v")
def train_w2v_command(
    corpus: Annotated[str, typer.Argument(help="Dataset name (text8, imdb, tinyshakespeare, hongloumeng) or a path.")],
    arch: Annotated[Literal["skipgram", "cbow"], _opt("--arch", help="skip-gram or CBOW.")] = "skipgram",
    dim: Annotated[int, _opt("--dim", help="Vector dimension.", min=1, max=10000)] = 100,
    window: Annotated[int, _opt("--window", help="Largest window (each centre word draws 1..N).", min=1, max=100)] = 5,
    negative: Annotated[int, _opt("--negative", help="Noise words per positive pair.", min=1, max=100)] = 5,
    min_count: Annotated[int, _opt("--min-count", help="Drop words seen fewer times.", min=1)] = 5,
    max_vocab: Annotated[Optional[int], _opt("--max-vocab", help="Keep at most N most frequent words.", min=2)] = None,
    sample: Annotated[float, _opt("--sample", help="Subsampling threshold for frequent words (0 = off).", min=0.0, max=1.0)] = 1e-3,
    epochs: Annotated[int, _opt("--epochs", help="Passes over the corpus.", min=1, max=10000)] = 5,
    lr: Annotated[float, _opt("--lr", help="Initial learning rate, decaying linearly to ~0.", min=1e-6, max=10.0)] = 0.025,
    batch_size: Annotated[Optional[int], _opt("--batch-size", help="Centre words per SGD step [512].", min=1, max=10_000_000)] = None,
    workers: Annotated[int, _opt("--workers", help="Hogwild training processes on CPU: 0 = one per core (at most 8), 1 = one process (bit-reproducible).", min=0, max=64)] = 0,
    lang: Lang = "auto",
    device: Device = "auto",
    seed: Seed = 1,
    output: OutputModel = None,
    force: Force = False,
    resume: Resume = False,
    json_output: JsonOutput = False,
) -> None:
    """Train word2vec (skip-gram or CBOW, negative sampling) on a corpus and save the model.

    Example: textlab train-w2v text8 --arch skipgram --epochs 5 -o text8-sg

    Distributed (one model, N processes, gloo on CPU / nccl on GPUs):
    torchrun --nproc-per-node 2 -m textlab train-w2v text8 -o text8-sg
    """
    from textlab.runtime import console, seed_everything
    from textlab.store import output_path
    from textlab.w2v.model import Word2VecConfig
    from textlab.w2v.pipeline import train_word2vec
    from textlab.w2v.saving import default_name

    seed_everything(seed)
    path = output_path(output, default_name(corpus, arch))
    config = Word2VecConfig(arch=arch, dim=dim, window=window, negative=negative, min_count=min_count,
                            max_vocab=max_vocab or 0, sample=sample, epochs=epochs, lr=lr, lang=lang, seed=seed,
                            workers=workers)
    if batch_size:
        config.batch_size = batch_size
    hint = f"textlab train-w2v {shlex.quote(corpus)} -o {shlex.quote(str(path))} --resume"
    summary = train_word2vec(corpus, config, path, force=force, resume=resume, device=device, resume_hint=hint)
    if summary.get("rank", 0) != 0:
        return  # torchrun: rank 0 speaks for the job
    if json_output:
        echo_json(summary)
    else:
        console.print(f"saved {summary['model']}: {summary['vocab_size']:,} words x {dim}, "
                      f"{summary['words_per_second']:,} words/s, loss {summary['mean_loss']}")


def _pairs_out(rows: list[tuple[str, float]], json_output: bool, query: dict) -> None:
    if json_output:
        echo_json({**query, "results": [{"word": w, "score": round(s, 6)} for w, s in rows]})
        return
    from rich.cells import cell_len  # display width: CJK characters take two cells

    width = max((cell_len(w) for w, _ in rows), default=0)
    sys.stdout.write("".join(f"{w}{' ' * (width - cell_len(w))}  {s:.4f}\n" for w, s in rows))


@app.command("neighbors")
def neighbors_command(
    word: Annotated[str, typer.Argument(help="The word to look up.")],
    model: ModelName = None,
    k: Annotated[int, _opt("-k", help="How many neighbours.", min=1, max=100000)] = 10,
    json_output: JsonOutput = False,
) -> None:
    """Nearest neighbours of a word by cosine similarity, with scores.

    Example: textlab neighbors king -k 10
    """
    from textlab.w2v.keyed_vectors import load_keyed_vectors

    vectors = load_keyed_vectors(model)
    _pairs_out(vectors.most_similar(word, k=k), json_output, {"word": word})


@app.command("analogy")
def analogy_command(
    a: Annotated[str, typer.Argument(help="A in A - B + C.")],
    b: Annotated[str, typer.Argument(help="B in A - B + C.")],
    c: Annotated[str, typer.Argument(help="C in A - B + C.")],
    model: ModelName = None,
    k: Annotated[int, _opt("-k", help="How many answers.", min=1, max=100000)] = 5,
    method: Annotated[Literal["add", "mul"], _opt("--method", help="3CosAdd or 3CosMul.")] = "add",
    json_output: JsonOutput = False,
) -> None:
    """Solve A - B + C (input words excluded): king man woman -> queen.

    Example: textlab analogy king man woman --method add
    """
    from textlab.w2v.keyed_vectors import load_keyed_vectors

    vectors = load_keyed_vectors(model)
    rows = vectors.analogy(a, b, c, k=k, method=method)
    _pairs_out(rows, json_output, {"a": a, "b": b, "c": c, "method": method})


@app.command("eval-w2v")
def eval_w2v_command(
    model: ModelName = None,
    analogies: Annotated[Optional[Path], _opt("--analogies", help="Analogy questions file (default: gensim's questions-words.txt).")] = None,
    similarity: Annotated[Optional[List[Path]], _opt("--similarity", help="Word-pair similarity file(s) (default: gensim's wordsim353 and simlex999).")] = None,
    json_output: JsonOutput = False,
) -> None:
    """Evaluate vectors: analogy accuracy (30,000 most frequent words) and Spearman rho on word pairs.

    Example: textlab eval-w2v --model text8-sg --json
    """
    from textlab.store import resolve_model, update_card
    from textlab.w2v.evaluate import evaluate_all
    from textlab.w2v.keyed_vectors import load_keyed_vectors

    path = resolve_model(model, "word2vec")
    vectors = load_keyed_vectors(path)
    figures = evaluate_all(vectors, analogies, list(similarity) if similarity else None)
    names = [k for k in figures["similarity"]]
    try:  # keep the figures on the card; a read-only model still gets its evaluation printed
        update_card(path, metrics={"analogy_accuracy": figures["analogy_accuracy"], "analogy_seen": figures["analogy_seen"],
                                   **{f"spearman_{n}": figures[n] for n in names}})
    except OSError as exc:
        from textlab.runtime import console

        console.print(f"[yellow]warning: could not record the metrics on the model card: {exc.strerror or exc}")
    if json_output:
        echo_json({"model": str(path), **figures})
        return
    out = [f"{'section':<32} {'correct':>8} {'seen':>6} {'accuracy':>9}"]
    for row in figures["analogy_sections"]:
        out.append(f"{row['section'][:32]:<32} {row['correct']:>8} {row['seen']:>6} {row['accuracy']:>9.1%}")
    out.append(f"{'total':<32} {figures['analogy_correct']:>8} {figures['analogy_seen']:>6} {figures['analogy_accuracy']:>9.1%}")
    for name in names:
        detail = figures["similarity"][name]
        rho = "n/a" if detail["spearman"] is None else f"{detail['spearman']:.3f}"
        out.append(f"{name}: spearman {rho} on {detail['pairs']} pairs ({detail['oov']} skipped, unknown words)")
    sys.stdout.write("\n".join(out) + "\n")


@app.command("export-w2v")
def export_w2v_command(
    out: Annotated[Path, typer.Argument(help="File to write.")],
    model: ModelName = None,
    binary: Annotated[bool, _opt("--binary", help="The binary word2vec format (default: text).")] = False,
    force: Force = False,
) -> None:
    """Export vectors in the word2vec text or binary format (readable by gensim and the C tool).

    Example: textlab export-w2v vectors.bin --binary --model text8-sg
    """
    from textlab.atomic import check_writable_target
    from textlab.runtime import console
    from textlab.w2v.formats import save_word2vec_format
    from textlab.w2v.keyed_vectors import load_keyed_vectors

    check_writable_target(out, force, "file")
    vectors = load_keyed_vectors(model)
    save_word2vec_format(out, vectors.words, vectors.vectors, binary=binary)
    console.print(f"wrote {len(vectors):,} vectors of dimension {vectors.dim} to {out}")


@app.command("import-w2v")
def import_w2v_command(
    file: Annotated[Path, typer.Argument(help="A word2vec text or binary file (the format is detected).")],
    output: OutputModel = None,
    force: Force = False,
) -> None:
    """Import vectors from a word2vec text or binary file as a textlab model.

    Example: textlab import-w2v GoogleNews-vectors.bin -o googlenews
    """
    from textlab.runtime import console
    from textlab.store import output_path
    from textlab.w2v.importing import import_word2vec

    path = output_path(output, "w2v-" + file.name.split(".")[0])
    count, dim = import_word2vec(file, path, force=force)
    console.print(f"imported {count:,} vectors of dimension {dim} as {path}")


@app.command("plot-w2v")
def plot_w2v_command(
    output: Annotated[Path, _opt("--output", "-o", help="Image file to write (.png, .svg, .pdf).")],
    model: ModelName = None,
    words: Annotated[Optional[List[str]], _opt("--words", help="Words to plot (repeat, or comma-separated).")] = None,
    top: Annotated[int, _opt("--top", help="Plot the N most frequent words when --words is absent.", min=2, max=5000)] = 300,
    method: Annotated[Literal["tsne", "pca"], _opt("--method", help="2-D projection.")] = "tsne",
    seed: Seed = 1,
    force: Force = False,
) -> None:
    """Draw a labelled 2-D map (t-SNE or PCA) of word vectors; fonts that render Chinese.

    Example: textlab plot-w2v --top 300 -o words.png
    """
    from textlab.atomic import check_writable_target
    from textlab.runtime import console
    from textlab.w2v.keyed_vectors import load_keyed_vectors
    from textlab.w2v.plot import plot_words

    check_writable_target(output, force, "file")
    vectors = load_keyed_vectors(model)
    chosen = [w for item in words for w in item.split(",") if w] if words else None
    info = plot_words(vectors, output, words=chosen, top=top, method=method, seed=seed)
    if info["warning"]:
        console.print(f"[yellow]warning: {info['warning']}")
    console.print(f"plotted {info['words']} words ({info['method']}, font {info['font']}) to {output}")
