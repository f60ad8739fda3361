"""Commands: train-lm, eval-lm (the word-level language model); ``generate`` samples words from
one (see :func:`generate_words_command`)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from textlab.cli.app import announce_model, app, echo_json
from textlab.cli.options import (
    Device, Force, JsonOutput, MaxMinutes, ModelName, OutputModel, Precision, Resume, Seed, opt,
)
from textlab.wordlm.config import VALID_FRACTION, VOCAB_WORDS, TrainConfig, WordLMConfig

_MODEL, _TRAIN = WordLMConfig(), TrainConfig()  # the defaults have one source: textlab/wordlm/config.py



@app.command("train-lm")
def train_lm_command(
    ctx: typer.Context,
    corpus: Annotated[str, typer.Argument(help="Text corpus, one document (review) a line (any format textlab reads), or imdb / an aclImdb directory or tarball (its train reviews, labelled and unlabelled).")],
    lang: Annotated[Literal["en", "zh", "auto"], opt("--lang", help="Tokenizer: en (nltk regexp), zh (jieba), auto (by the script of the first documents); lowercased, as sentiment reads text.")] = "auto",
    vocab_size: Annotated[int, opt("--vocab-size", help="Words kept, the most frequent of the training documents (plus <pad>, <unk>, <eos>).", min=1, max=5_000_000)] = VOCAB_WORDS,
    embed_dim: Annotated[Optional[int], opt("--embed-dim", help=f"Embedding size, which the tied softmax shares [{_MODEL.embed_dim}].", min=1, max=8192)] = None,
    hidden: Annotated[Optional[int], opt("--hidden", help=f"LSTM units per layer [{_MODEL.hidden}].", min=1, max=8192)] = None,
    layers: Annotated[Optional[int], opt("--layers", help=f"LSTM layers [{_MODEL.layers}].", min=1, max=16)] = None,
    seq_len: Annotated[Optional[int], opt("--seq-len", help=f"Tokens per BPTT chunk [{_TRAIN.seq_len}].", min=2, max=100_000)] = None,
    batch_size: Annotated[Optional[int], opt("--batch-size", help=f"Parallel streams [{_TRAIN.batch_size}].", min=1, max=100_000)] = None,
    lr: Annotated[Optional[float], opt("--lr", help=f"Peak learning rate (AdamW, warm-up then cosine) [{_TRAIN.lr:g}].", min=1e-7, max=10.0)] = None,
    epochs: Annotated[Optional[int], opt("--epochs", help="Passes over the training text [1; unlimited with --max-minutes].", min=1)] = None,
    max_minutes: MaxMinutes = None,
    precision: Precision = "auto",
    valid_fraction: Annotated[float, opt("--valid-fraction", help="Last fraction of the documents held out for validation.", min=1e-4, max=0.9)] = VALID_FRACTION,
    valid_data: Annotated[Optional[str], opt("--valid-data", help="Validate on this text instead (every corpus document then trains).")] = None,
    device: Device = "auto",
    seed: Seed = _TRAIN.seed,
    resume: Resume = False,
    output: OutputModel = None,
    force: Force = False,
) -> None:
    """Train a word-level LSTM language model (tied adaptive softmax) on a corpus.

    Example: textlab train-lm imdb --max-minutes 60 -o imdb-lm

    Documents end with <eos>; the validation text is the last --valid-fraction of them. The card
    records the validation perplexity beside the unigram baseline of the same vocabulary on the
    same text. With --resume, --epochs, --max-minutes, --precision and --device may change; the
    data options are the checkpoint's; options that define the model must match.
    """
    from textlab.cli.options import check_validation_source, given_options
    from textlab.runtime.device import pick_device
    from textlab.runtime.output import say
    from textlab.runtime.signals import graceful_stop
    from textlab.store.places import output_path
    from textlab.wordlm.pipeline import train_lm_job

    check_validation_source(corpus, valid_data, given_options(ctx))
    stem = Path(corpus.rstrip("/")).name.split(".")[0] or "corpus"
    path = output_path(output, f"lm-{stem}")
    again = f" {shlex.quote(corpus)} --resume" + (f" -o {shlex.quote(output)}" if output else "")
    overrides = dict(embed_dim=embed_dim, hidden=hidden, layers=layers, seq_len=seq_len, batch_size=batch_size, lr=lr)
    data_settings = dict(lang=lang, vocab_size=vocab_size, valid_fraction=valid_fraction, valid_data=valid_data)
    with graceful_stop() as stop:
        metrics = train_lm_job(corpus, path, data_settings=data_settings, epochs=epochs, max_minutes=max_minutes,
                               precision=precision, device=pick_device(device), seed=seed, resume=resume, force=force,
                               overrides=overrides, given=given_options(ctx), stop=stop,
                               resume_hint=f"textlab train-lm{again}")
    say(f"saved {path}: validation perplexity {metrics['val_perplexity']:.2f} (unigram "
        f"{metrics['val_unigram_perplexity']:.1f}), {metrics['train_tokens_per_s']:,} tokens/s, {metrics['precision']}")


@app.command("eval-lm")
def eval_lm_command(
    file: Annotated[str, typer.Argument(help="Held-out text, one document a line (or a dataset name or path).")],
    model: ModelName = None,
    json_output: JsonOutput = False,
) -> None:
    """Perplexity of a word LM over a whole text, beside the unigram baseline of its vocabulary.

    Every word (a word outside the vocabulary counts as <unk>) and every document end is
    predicted. Without --model: your newest word LM of the text's language.

    Example: textlab eval-lm held_out.txt --model imdb-lm --json
    """
    from textlab.runtime.device import pick_device
    from textlab.wordlm.evaluate import evaluate_on_file

    result = evaluate_on_file(model, file, pick_device("auto"), announce_model)
    if json_output:
        echo_json(result)
    else:
        sys.stdout.write(f"perplexity {result['perplexity']:.2f} (unigram {result['unigram_perplexity']:.1f}) over "
                         f"{result['tokens']:,} tokens ({result['documents']:,} documents); "
                         f"{result['unk_rate']:.2%} of the words outside the vocabulary\n")


def generate_words_command(model: str, seed: Optional[str], length: int, temperature: float, top_k: Optional[int],
                           random_seed: Optional[int], stream: bool) -> None:
    """``generate --model WORD_LM``: the seed (default: the start of a document) and up to
    ``length`` sampled words, ending early at a sampled end of document."""
    import torch

    from textlab.runtime.output import say
    from textlab.wordlm.sample import generate_words, readable, seed_ids
    from textlab.wordlm.saving import choose_wordlm, load_wordlm

    choice = choose_wordlm(model)
    loaded, vocab, _card = load_wordlm(choice.path, "cpu")  # one word at a time: the CPU is fast enough
    if seed is not None:
        seed = readable(seed)
        unknown = seed_ids(seed, vocab, loaded.config.lang)[1]
        if unknown:
            shown = " ".join(repr(w) for w in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
            say(f"warning: {len(unknown)} seed word(s) outside the vocabulary of {choice.name}, read as <unk>: {shown}",
                style="yellow")
    generator = torch.Generator().manual_seed(random_seed) if random_seed is not None else None
    out = sys.stdout

    def write(piece: str) -> None:
        out.write(piece)
        out.flush()

    text = generate_words(loaded, vocab, seed, length, temperature, top_k, write if stream else None, generator)
    out.write(("" if stream else text) + "\n")
    out.flush()
