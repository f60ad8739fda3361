"""Commands: train-w2v, neighbors, analogy, eval-w2v, export-w2v, import-w2v, plot-w2v."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, List, Literal, Optional

import typer

from textlab.cli.app import announce_model, app, echo_json
from textlab.cli.options import Device, Force, JsonOutput, Lang, ModelName, OutputModel, Resume, Seed, opt
from textlab.w2v.config import CBOW_LR, COMPILE_FROM_WORDS, DEFAULT_LR, DEVICE_STEPS, Word2VecConfig



_W2V = Word2VecConfig()  # the defaults (one source: textlab/w2v/config.py)


@app.command("train-w2v")
def train_w2v_command(
    ctx: typer.Context,
    corpus: Annotated[str, typer.Argument(help="Dataset name (text8, imdb, tinyshakespeare, hongloumeng) or a path.")],
    arch: Annotated[Literal["skipgram", "cbow"], opt("--arch", help="skip-gram or CBOW.")] = _W2V.arch,
    dim: Annotated[int, opt("--dim", help="Vector dimension.", min=1, max=10000)] = _W2V.dim,
    window: Annotated[int, opt("--window", help="Largest window (each centre word draws 1..N).", min=1, max=100)] = _W2V.window,
    negative: Annotated[int, opt("--negative", help="Noise words per positive pair.", min=1, max=100)] = _W2V.negative,
    min_count: Annotated[int, opt("--min-count", help="Drop words seen fewer times.", min=1)] = _W2V.min_count,
    max_vocab: Annotated[int, opt("--max-vocab", help="Keep at most N most frequent words (0 = no limit).", min=0)] = _W2V.max_vocab,
    sample: Annotated[float, opt("--sample", help="Subsampling threshold for frequent words (0 = off).", min=0.0, max=1.0)] = _W2V.sample,
    epochs: Annotated[int, opt("--epochs", help="Passes over the corpus.", min=1, max=10000)] = _W2V.epochs,
    lr: Annotated[float, opt("--lr", help=f"Initial learning rate, decaying linearly to ~0 (0 = {DEFAULT_LR} for skip-gram, {CBOW_LR} for CBOW, as word2vec C).", min=0.0, max=10.0)] = _W2V.lr,
    engine: Annotated[Literal["auto", "hogwild", "device"], opt("--engine", help="hogwild: CPU worker threads, word by word (as gensim); device: large tensor steps on --device (the GPU engine); auto: device on a GPU, hogwild on a CPU.")] = _W2V.engine,
    batch_size: Annotated[int, opt("--batch-size", help="Device engine: centre words per step (0 = " + ", ".join(f"{size:,} for {arch}" for arch, (size, _) in DEVICE_STEPS.items()) + ").", min=0, max=10_000_000)] = _W2V.batch_size,
    compile: Annotated[Literal["auto", "compiled", "eager"], opt("--compile", help="Device engine: its step compiled into one graph (a CUDA graph on a GPU) or eager; auto: compiled on a GPU, and on a CPU for runs of " + f"{COMPILE_FROM_WORDS:,}+ words (epochs x corpus).")] = _W2V.compile,
    workers: Annotated[int, opt("--workers", help="Hogwild engine: worker threads; 0 = one per core (at most 8), 1 = bit-reproducible.", min=0, max=64)] = _W2V.workers,
    no_cache: Annotated[bool, opt("--no-cache", help="Encode the corpus into a temporary id file instead of the reusable one in the cache.")] = False,
    lang: Lang = _W2V.lang,
    device: Device = "auto",
    seed: Seed = _W2V.seed,
    output: OutputModel = None,
    force: Force = False,
    resume: Resume = False,
    json_output: JsonOutput = False,
) -> None:
    """Train word2vec (skip-gram or CBOW, negative sampling) on a corpus and save the model.

    Example: textlab train-w2v text8 --arch skipgram --epochs 5 -o text8-sg

    The corpus is encoded once into an id file in the cache and reused by the next run with the
    same corpus and settings. With --resume, --epochs, --lr, --batch-size, --compile and --device may change;
    options that define the model or its data must match the interrupted run.

    Distributed (one model, N processes, gloo on CPU / nccl on GPUs):
    torchrun --nproc-per-node 2 -m textlab train-w2v text8 -o text8-sg
    """
    from textlab.cli.options import given_options
    from textlab.runtime.output import say
    from textlab.runtime.seeding import seed_everything
    from textlab.store.places import output_path
    from textlab.w2v.pipeline import train_word2vec
    from textlab.w2v.saving import default_name

    seed_everything(seed, import_torch=False)  # a CPU run never needs torch; the device engine seeds its own generators
    path = output_path(output, default_name(corpus, arch))
    config = Word2VecConfig(arch=arch, dim=dim, window=window, negative=negative, min_count=min_count,
                            max_vocab=max_vocab, sample=sample, epochs=epochs, lr=lr, lang=lang, seed=seed,
                            workers=workers, engine=engine, batch_size=batch_size, compile=compile)
    hint = f"textlab train-w2v {shlex.quote(corpus)} -o {shlex.quote(str(path))} --resume"
    given = {k: v for k, v in given_options(ctx, exclude=("resume", "force", "output", "json_output", "no_cache")).items()}
    summary = train_word2vec(corpus, config, path, force=force, resume=resume, device=device, resume_hint=hint,
                             cache=not no_cache, given=given)
    if summary.get("rank", 0) != 0:
        return  # torchrun: rank 0 speaks for the job
    if json_output:
        echo_json(summary)
    else:
        say(f"saved {summary['model']}: {summary['vocab_size']:,} words x {summary['dim']}, "
            f"{summary['words_per_second']:,} words/s ({summary['engine']} engine on {summary['device']}), "
            f"loss {summary['mean_loss']}")


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
    k: Annotated[int, opt("-k", "--topn", help="How many neighbours (gensim's topn).", min=1, max=100000)] = 10,
    json_output: JsonOutput = False,
) -> None:
    """Nearest neighbours of a word by cosine similarity, with scores.

    Without --model: your newest word2vec model in the word's language, else the shipped one
    (shipped:en; shipped:zh for Chinese words).

    Example: textlab neighbors king -k 10
    """
    from textlab.w2v.keyed_vectors import load_keyed_vectors

    vectors = load_keyed_vectors(model, query=[word])
    rows = vectors.most_similar(word, topn=k)
    announce_model(vectors.choice)
    _pairs_out(rows, json_output, {"word": word, "model": vectors.name})


@app.command("analogy")
def analogy_command(
    a: Annotated[str, typer.Argument(help="A in A - B + C.")],
    b: Annotated[str, typer.Argument(help="B in A - B + C.")],
    c: Annotated[str, typer.Argument(help="C in A - B + C.")],
    model: ModelName = None,
    k: Annotated[int, opt("-k", "--topn", help="How many answers (gensim's topn).", min=1, max=100000)] = 5,
    method: Annotated[Literal["add", "mul"], opt("--method", help="3CosAdd or 3CosMul.")] = "add",
    json_output: JsonOutput = False,
) -> None:
    """Solve A - B + C (input words excluded): king man woman -> queen.

    Without --model: your newest word2vec model in the words' language, else the shipped one.

    Example: textlab analogy king man woman --method add
    """
    from textlab.w2v.keyed_vectors import load_keyed_vectors

    vectors = load_keyed_vectors(model, query=[a, b, c])
    rows = vectors.analogy(a, b, c, k=k, method=method)
    announce_model(vectors.choice)
    _pairs_out(rows, json_output, {"a": a, "b": b, "c": c, "method": method, "model": vectors.name})


@app.command("similarity")
def similarity_command(
    a: Annotated[str, typer.Argument(help="The first word.")],
    b: Annotated[str, typer.Argument(help="The second word.")],
    model: ModelName = None,
    json_output: JsonOutput = False,
) -> None:
    """Cosine similarity of two words (gensim's KeyedVectors.similarity).

    Without --model: your newest word2vec model in the words' language, else the shipped one.

    Example: textlab similarity king queen
    """
    from textlab.w2v.keyed_vectors import load_keyed_vectors

    vectors = load_keyed_vectors(model, query=[a, b])
    score = vectors.similarity(a, b)
    announce_model(vectors.choice)
    if json_output:
        echo_json({"a": a, "b": b, "similarity": round(score, 6), "model": vectors.name})
    else:
        sys.stdout.write(f"{score:.4f}\n")


@app.command("eval-w2v")
def eval_w2v_command(
    model: ModelName = None,
    analogies: Annotated[Optional[List[Path]], opt("--analogies", help="Analogy questions file, 'a b c d' lines, ': section' headers (repeatable; default: gensim's questions-words.txt for English vectors, CA8 for Chinese ones).")] = None,
    similarity: Annotated[Optional[List[Path]], opt("--similarity", help="Word-pair similarity file, 'word TAB word TAB score' lines (repeatable; default: gensim's wordsim353 and simlex999 for English vectors).")] = None,
    save_metrics: Annotated[bool, opt("--save-metrics", help="Also record the figures in the model's card (shown by `textlab models`).")] = False,
    json_output: JsonOutput = False,
) -> None:
    """Evaluate vectors: analogy accuracy (30,000 most frequent words) and Spearman rho on word pairs.

    A set the vocabulary does not cover (English questions for Chinese vectors) is skipped and
    said so. The model is not changed unless --save-metrics is given.

    Example: textlab eval-w2v --model text8-sg --json
    """
    from textlab.w2v.evaluate import evaluate_all, metrics_for_card
    from textlab.w2v.keyed_vectors import load_keyed_vectors

    vectors = load_keyed_vectors(model)
    if save_metrics and vectors.choice.shipped:
        from textlab.errors import UsageError

        raise UsageError(f"--save-metrics: {vectors.name} ships with textlab and is not changed")
    figures = evaluate_all(vectors, analogies or None, similarity or None)
    announce_model(vectors.choice)
    if save_metrics:
        from textlab.store.cards import update_card

        update_card(vectors.choice.path, metrics=metrics_for_card(figures))
    if json_output:
        echo_json({"model": vectors.name, "path": str(vectors.choice.path), **figures})
        return
    several = len(figures["analogies"]) > 1
    out = []
    if figures["analogy_sections"]:
        out.append(f"{'section':<32} {'correct':>8} {'seen':>6} {'accuracy':>9}")
        for row in figures["analogy_sections"]:
            name = f"{row['set']}: {row['section']}" if several else row["section"]
            out.append(f"{name[:32]:<32} {row['correct']:>8} {row['seen']:>6} {row['accuracy']:>9.1%}")
        out.append(f"{'total':<32} {figures['analogy_correct']:>8} {figures['analogy_seen']:>6} "
                   f"{figures['analogy_accuracy']:>9.1%}")
    for name, detail in figures["similarity"].items():
        if detail["applies"]:
            rho = "n/a" if detail["spearman"] is None else f"{detail['spearman']:.3f}"
            out.append(f"{name}: spearman {rho} on {detail['pairs']} pairs ({detail['oov']} skipped, unknown words)")
    out += figures["skipped"]
    if save_metrics:
        out.append(f"recorded on the card of {vectors.name}")
    sys.stdout.write("\n".join(out) + "\n")


@app.command("export-w2v")
def export_w2v_command(
    out: Annotated[Path, typer.Argument(help="File to write.")],
    model: ModelName = None,
    binary: Annotated[bool, opt("--binary", help="The binary word2vec format (default: text).")] = False,
    force: Force = False,
) -> None:
    """Export vectors in the word2vec text or binary format (readable by gensim and the C tool).

    Example: textlab export-w2v vectors.bin --binary --model text8-sg
    """
    from textlab.atomic import check_writable_target
    from textlab.runtime.output import say
    from textlab.w2v.formats import save_word2vec_format
    from textlab.w2v.keyed_vectors import load_keyed_vectors

    check_writable_target(out, force, "file")
    vectors = load_keyed_vectors(model)
    announce_model(vectors.choice)
    save_word2vec_format(out, vectors.words, vectors.vectors, binary=binary)
    say(f"wrote {len(vectors):,} vectors of dimension {vectors.dim} to {out}")


@app.command("import-w2v")
def import_w2v_command(
    file: Annotated[Path, typer.Argument(help="A word2vec text or binary file (the format is detected).")],
    output: OutputModel = None,
    force: Force = False,
) -> None:
    """Import vectors from a word2vec text or binary file as a textlab model.

    Example: textlab import-w2v GoogleNews-vectors.bin -o googlenews
    """
    from textlab.runtime.output import say
    from textlab.store.places import output_path
    from textlab.w2v.importing import import_word2vec

    path = output_path(output, "w2v-" + file.name.split(".")[0])
    count, dim = import_word2vec(file, path, force=force)
    say(f"imported {count:,} vectors of dimension {dim} as {path}")


@app.command("plot-w2v")
def plot_w2v_command(
    output: Annotated[Path, opt("--output", "-o", help="Image file to write (.png, .svg, .pdf).")],
    model: ModelName = None,
    words: Annotated[Optional[List[str]], opt("--words", help="Words to plot (repeat, or comma-separated).")] = None,
    top: Annotated[int, opt("--top", help="Plot the N most frequent words when --words is absent.", min=2, max=5000)] = 300,
    method: Annotated[Literal["tsne", "pca"], opt("--method", help="2-D projection.")] = "tsne",
    font: Annotated[Optional[str], opt("--font", help="Font for the labels: an installed font's name or a font file (default: an installed CJK font such as Noto Sans CJK or WenQuanYi when a label is Chinese).")] = None,
    seed: Seed = 1,
    force: Force = False,
) -> None:
    """Draw a labelled 2-D map (t-SNE or PCA) of word vectors; Chinese labels use an installed CJK font.

    Example: textlab plot-w2v --top 300 -o words.png
    """
    from textlab.atomic import check_writable_target
    from textlab.errors import UsageError
    from textlab.runtime.output import say
    from textlab.w2v.keyed_vectors import load_keyed_vectors
    from textlab.w2v.plot import plot_words

    check_writable_target(output, force, "file")
    chosen = [w.strip() for item in words for w in item.split(",") if w.strip()] if words else None
    if words and not chosen:
        raise UsageError("--words: no word given")
    vectors = load_keyed_vectors(model, query=chosen or ())
    for word in chosen or ():
        vectors.id_of(word)  # an unknown word is refused before anything is said or drawn
    announce_model(vectors.choice)
    info = plot_words(vectors, output, words=chosen, top=top, method=method, seed=seed, font=font)
    if info["warning"]:
        say(f"warning: {info['warning']}", style="yellow")
    say(f"plotted {info['words']} words ({info['method']}, {info['seconds']:.1f} s, font {info['font']}) to {output}")
