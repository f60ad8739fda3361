"""Commands: tokenize, vocab build."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from textlab.cli.app import app, echo_json
from textlab.cli.options import Force, JsonOutput, KeepCase, Lang, StopWords

vocab_app = typer.Typer(help="Build a vocabulary (top-N words + <unk>) from a corpus.", no_args_is_help=True)
app.add_typer(vocab_app, name="vocab")


@app.command()
def tokenize(
    file: Annotated[str, typer.Argument(help="Text file, archive, directory or dataset name; - for stdin.")] = "-",
    lang: Lang = "auto",
    keep_case: KeepCase = False,
    stopwords: StopWords = False,
    workers: Annotated[Optional[int], typer.Option("--workers", min=1, max=256, help="Worker processes (default: all cores).")] = None,
) -> None:
    """Tokenize text: one line of space-separated tokens per input line (streaming).

    Example: printf '我来到北京清华大学\\n' | textlab tokenize --lang zh
    """
    from textlab.data.corpus import iter_corpus_pieces, resolve_corpus
    from textlab.text.tokenize import TokenizerOptions, tokenize_pieces

    source = "-" if file == "-" else resolve_corpus(file)
    options = TokenizerOptions(lang=lang, lowercase=not keep_case, stopwords=stopwords)
    # Someone typing: answer each line as it is entered, in this process.
    typing = source == "-" and sys.stdin is not None and sys.stdin.isatty()
    pieces = iter_corpus_pieces(source, line_at_a_time=typing)
    out = sys.stdout.buffer
    for text in tokenize_pieces(pieces, options, 1 if typing else workers, block_chars=1 if typing else None):
        out.write(text.encode("utf-8"))
        out.flush()


@vocab_app.command("build")
def vocab_build(
    corpus: Annotated[str, typer.Argument(help="Dataset name or path (text, .gz, .zip, tar, directory).")],
    output: Annotated[str, typer.Option("--output", "-o", help="Where to write the vocabulary TSV.")] = "vocab.tsv",
    size: Annotated[int, typer.Option("--size", min=1, help="Keep the N most frequent words.")] = 50000,
    min_count: Annotated[int, typer.Option("--min-count", min=1, help="Drop words seen fewer times.")] = 5,
    lang: Lang = "auto",
    keep_case: KeepCase = False,
    stopwords: StopWords = False,
    force: Force = False,
    json_output: JsonOutput = False,
) -> None:
    """Build a vocabulary (top-N words plus <unk>, with counts) and save it as TSV.

    Example: textlab vocab build tinyshakespeare --size 10000 --min-count 2 -o vocab.tsv
    """
    from pathlib import Path

    from textlab.atomic import check_writable_target
    from textlab.data.corpus import resolve_corpus
    from textlab.runtime.output import say
    from textlab.text.corpus_tokens import count_corpus
    from textlab.text.tokenize import TokenizerOptions
    from textlab.text.vocab import Vocab

    check_writable_target(Path(output), force, "vocabulary")
    path = resolve_corpus(corpus)
    options = TokenizerOptions(lang=lang, lowercase=not keep_case, stopwords=stopwords)
    counter = count_corpus(path, options)
    vocab = Vocab.from_counter(counter, size=size, min_count=min_count)
    vocab.save(Path(output))
    summary = {
        "output": output, "words": len(vocab) - vocab.num_specials, "tokens": int(sum(counter.values())),
        "distinct": len(counter), "unk_rate": round(vocab.unk_rate(), 6),
    }
    if json_output:
        echo_json(summary)
    else:
        say(f"wrote {output}: {summary['words']:,} words + <unk> from {summary['tokens']:,} tokens "
            f"({summary['distinct']:,} distinct); <unk> rate {summary['unk_rate']:.2%}")
