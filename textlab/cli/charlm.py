"""Commands: train-charlm, generate, eval-charlm (the character-level language model)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from textlab.charlm.config import CPU_SHAPES, CUDA_SHAPE, TrainConfig
from textlab.cli.app import announce_model, app, echo_json
from textlab.cli.options import (
    Device, Force, JsonOutput, MaxMinutes, ModelName, OutputModel, Precision, Resume, Seed, opt,
)



_TRAIN = TrainConfig()  # the defaults have one source: textlab/charlm/config.py
_CPU, _GPU = CPU_SHAPES[0], CUDA_SHAPE
_PROBED = " and ".join(s.name for s in CPU_SHAPES)


def _shape_help(what: str, field: str) -> str:
    return (f"{what} [CPU: {getattr(_CPU, field)}, or chosen by the set-up probe among {_PROBED} with --max-minutes; "
            f"CUDA: {getattr(_GPU, field)}].")


@app.command("train-charlm")
def train_charlm_command(
    ctx: typer.Context,
    corpus: Annotated[str, typer.Argument(help="Dataset name (tinyshakespeare, text8, hongloumeng) or a path.")],
    cell: Annotated[Literal["lstm", "gru", "rnn"], opt("--cell", help="Recurrent cell.")] = "lstm",
    hidden: Annotated[Optional[int], opt("--hidden", help=_shape_help("Hidden units per layer", "hidden"), min=1, max=8192)] = None,
    layers: Annotated[Optional[int], opt("--layers", help=_shape_help("Recurrent layers", "layers"), min=1, max=16)] = None,
    dropout: Annotated[Optional[float], opt("--dropout", help=_shape_help("Dropout between layers, on the output and (half) on the input", "dropout"), min=0.0, max=0.95)] = None,
    seq_len: Annotated[Optional[int], opt("--seq-len", help=_shape_help("Characters per BPTT chunk", "seq_len"), min=2, max=100_000)] = None,
    batch_size: Annotated[Optional[int], opt("--batch-size", help=_shape_help("Parallel streams", "batch_size"), min=1, max=100_000)] = None,
    epochs: Annotated[Optional[int], opt("--epochs", help="Passes over the training text [10; unlimited with --max-minutes].", min=1)] = None,
    max_minutes: MaxMinutes = None,
    lr: Annotated[Optional[float], opt("--lr", help=f"Peak learning rate (AdamW, warm-up then cosine) [{_TRAIN.lr:g}].", min=1e-7, max=10.0)] = None,
    precision: Precision = "auto",
    valid_fraction: Annotated[float, opt("--valid-fraction", help="Last fraction of the corpus held out for validation (text8: standard 5M/5M split).", min=1e-4, max=0.9)] = 0.1,
    device: Device = "auto",
    seed: Seed = _TRAIN.seed,
    resume: Resume = False,
    output: OutputModel = None,
    force: Force = False,
) -> None:
    """Train a character-level LSTM/GRU/RNN language model on a corpus.

    Example: textlab train-charlm tinyshakespeare --max-minutes 10 -o shakespeare

    On a CPU with --max-minutes and no shape option, a probe of a few seconds (at most 3% of the
    budget) times the candidate shapes and precisions on the corpus and picks the one expected to
    reach the lowest validation loss in the budget; the card records its figures. The trainer also
    times its thread count against one thread now and then and keeps the faster (TEXTLAB_THREADS
    or OMP_NUM_THREADS fix the count). With --resume, --epochs, --max-minutes, --precision and
    --device may change; options that define the model or its data must match.

    Distributed (one model, DistributedDataParallel; the --batch-size streams are split over the processes):
    torchrun --nproc-per-node 2 -m textlab train-charlm tinyshakespeare -o shakespeare
    """
    from textlab.charlm.pipeline import train_charlm_job
    from textlab.cli.options import given_options
    from textlab.data.registry import get_dataset
    from textlab.distributed import launched_by_torchrun, relaunch_prefix
    from textlab.runtime.device import pick_device
    from textlab.runtime.output import say
    from textlab.runtime.signals import graceful_stop
    from textlab.store.places import output_path

    default_name = "charlm-" + (corpus if get_dataset(corpus) else Path(corpus).name.split(".")[0] or "corpus")
    path = output_path(output, default_name)
    overrides = dict(hidden=hidden, layers=layers, dropout=dropout, seq_len=seq_len, batch_size=batch_size, lr=lr)
    again = f" {shlex.quote(corpus)} --resume" + (f" -o {shlex.quote(output)}" if output else "")
    if launched_by_torchrun():
        _train_under_torchrun(corpus, path, valid_fraction, cell, epochs, max_minutes, precision, seed, overrides,
                              device, resume, force, say, hint=f"{relaunch_prefix()} -m textlab train-charlm{again}")
        return
    with graceful_stop() as stop:
        metrics = train_charlm_job(corpus, path, cell=cell, epochs=epochs, max_minutes=max_minutes, precision=precision,
                                   valid_fraction=valid_fraction, device=pick_device(device), seed=seed, resume=resume,
                                   force=force, overrides=overrides, given=given_options(ctx), stop=stop,
                                   resume_hint=f"textlab train-charlm{again}")
    _report_saved(say, path, metrics)


def _report_saved(log, path, metrics: dict) -> None:
    log(f"saved {path}: val loss {metrics['val_loss']:.4f} nats/char, perplexity "
        f"{metrics['val_perplexity']:.3f}, {metrics['val_bpc']:.4f} bits/char, "
        f"{metrics['train_chars_per_s']:,} chars/s")


def _train_under_torchrun(corpus, path, valid_fraction, cell, epochs, max_minutes, precision, seed, overrides,
                          device, resume, force, log, hint) -> None:
    """train-charlm as one process of a torchrun job; process 0 speaks for the job. The ranks
    must agree on the set-up, so nothing is probed: precision auto is fp32 on a CPU and fp16 on
    CUDA where tensor cores exist."""
    from textlab.charlm.distributed import train_under_torchrun
    from textlab.charlm.pipeline import make_configs
    from textlab.errors import TextlabError
    from textlab.runtime.device import check_precision, precision_candidates
    from textlab.runtime.seeding import seed_everything

    def configure(vocab_size: int, device):
        chosen = check_precision(precision, device)
        if chosen == "auto":
            chosen = precision_candidates(device)[-1] if device.type == "cuda" else "fp32"
        return make_configs(vocab_size, device.type, cell, epochs, max_minutes, seed, chosen, **overrides)

    seed_everything(seed)
    try:
        metrics = train_under_torchrun(corpus, path, valid_fraction, configure, device, resume=resume, force=force,
                                       log=log, resume_hint=hint)
    except TextlabError as exc:
        if getattr(exc, "reported_by_rank0", False):
            raise typer.Exit(exc.exit_code) from None
        raise
    if metrics is not None:
        _report_saved(log, path, metrics)


def _charlm_for_generate(model: str | None, seed: str):
    """The char LM to sample from; a --model that names none says that a word LM also works."""
    from textlab.charlm.alphabet import choose_charlm
    from textlab.errors import TextlabError
    from textlab.store.shipped import shipped_models

    try:
        return choose_charlm(model, seed)
    except TextlabError as exc:
        if not model or type(exc) is not TextlabError:
            raise
        word_lms = ", ".join(name for name, _, _ in shipped_models("wordlm")) or "none shipped"
        raise TextlabError(f"{exc}; generate also samples from a word LM ({word_lms})") from None


@app.command("generate")
def generate_command(
    model: ModelName = None,
    seed: Annotated[Optional[str], opt("--seed", help="Text to start from (default: a newline; a word LM: the start of a document).")] = None,
    length: Annotated[int, opt("--len", help="New characters to generate (a word LM: at most this many words).", min=0, max=10_000_000)] = 1000,
    temperature: Annotated[float, opt("--temperature", help="Sampling temperature (lower = safer).", min=1e-4, max=100.0)] = 0.8,
    top_k: Annotated[Optional[int], opt("--top-k", help="Sample only among the K most likely characters (or words).", min=1)] = None,
    random_seed: Annotated[Optional[int], opt("--random-seed", help="Seed of the sampling: the same number gives the same text (default: different every run).", min=0, max=2**63 - 1)] = None,
    stream: Annotated[bool, opt("--stream", help="Write characters as they are sampled.")] = False,
) -> None:
    """Generate text from a char LM (or a word LM): the seed followed by --len sampled characters.

    Without --model: your newest char LM whose alphabet has the seed's characters, else the
    shipped one (shipped:shakespeare). A word LM named with --model samples words, and stops
    early when it ends the document.

    Example: textlab generate --model shakespeare --seed 'ROMEO:' --len 500 --temperature 0.7
    """
    from textlab.store.choice import named_kind

    if named_kind(model) == "wordlm":
        from textlab.cli.wordlm import generate_words_command

        generate_words_command(model, seed, length, temperature, top_k, random_seed, stream)
        return
    import numpy as np

    from textlab.charlm.alphabet import check_seed, default_seed
    from textlab.charlm.light import LightCharLM, generate

    # one character at a time on the CPU, in numpy: 1,000 characters take a fraction of a second,
    # less than importing torch would (textlab.charlm.light)
    choice = _charlm_for_generate(model, seed or "")
    loaded = LightCharLM(choice.path)
    seed_text = default_seed(loaded.codec) if seed is None else seed
    if "\r" not in loaded.codec.alphabet:  # a seed pasted from a CRLF file: its line ends as the text's
        seed_text = seed_text.replace("\r\n", "\n").replace("\r", "\n")
    check_seed(seed_text, loaded.codec, choice.name)
    rng = np.random.default_rng(random_seed)
    announce_model(choice)
    out = sys.stdout
    if stream:
        out.write(seed_text)
        out.flush()

        def on_char(char: str) -> None:
            out.write(char)
            out.flush()

        generate(loaded, seed_text, length, temperature, top_k, rng, on_char=on_char)
        out.write("\n")
    else:
        out.write(generate(loaded, seed_text, length, temperature, top_k, rng) + "\n")
    out.flush()


@app.command("eval-charlm")
def eval_charlm_command(
    file: Annotated[str, typer.Argument(help="Text file (or dataset name) to measure the model on.")],
    model: ModelName = None,
    json_output: JsonOutput = False,
) -> None:
    """Mean loss (nats/char), perplexity and bits per character of a char LM over a whole file.

    Without --model: your newest char LM whose alphabet covers the file, else the shipped one.
    Characters outside the model's alphabet are named; more than 1% of them is refused.

    Example: textlab eval-charlm --model shakespeare held_out.txt --json
    """
    from textlab.charlm.alphabet import evaluate_on_file
    from textlab.runtime.device import pick_device
    from textlab.runtime.output import say

    def before(choice, warning: str | None) -> None:
        announce_model(choice)
        if warning:
            say(f"warning: {warning}", style="yellow")

    result = evaluate_on_file(model, file, pick_device("auto"), before)
    if json_output:
        echo_json(result)
    else:
        sys.stdout.write(f"loss {result['loss']:.4f} nats/char  perplexity {result['perplexity']:.3f}  "
                         f"bpc {result['bpc']:.4f}  over {result['chars']:,} characters\n")
