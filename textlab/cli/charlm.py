"""Commands: train-charlm, generate, eval-charlm (the character-level language model)."""

from __future__ import annotations

import shlex
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from textlab.cli.app import announce_model, app, echo_json
from textlab.cli.options import Device, Force, JsonOutput, MaxMinutes, ModelName, OutputModel, Resume, Seed


def _opt(name: str, help: str, **kw):
    return typer.Option(name, help=help, **kw)


@app.command("train-charlm")
def train_charlm_command(
    corpus: Annotated[str, typer.Argument(help="Dataset name (tinyshakespeare, text8, hongloumeng) or a path.")],
    cell: Annotated[Literal["lstm", "gru", "rnn"], _opt("--cell", "Recurrent cell.")] = "lstm",
    hidden: Annotated[Optional[int], _opt("--hidden", "Hidden units per layer [CPU: 768 with bf16, 512 with fp32; CUDA: 1024].", min=1, max=8192)] = None,
    layers: Annotated[Optional[int], _opt("--layers", "Recurrent layers [CPU: 1, CUDA: 2].", min=1, max=16)] = None,
    dropout: Annotated[Optional[float], _opt("--dropout", "Dropout between layers, on the output and (half) on the input [CPU: 0.2 with bf16, 0.1 with fp32; CUDA: 0.25].", min=0.0, max=0.95)] = None,
    seq_len: Annotated[Optional[int], _opt("--seq-len", "Characters per BPTT chunk [CPU: 128, CUDA: 256].", min=2, max=100_000)] = None,
    batch_size: Annotated[Optional[int], _opt("--batch-size", "Parallel streams [CPU: 32 with bf16, 16 with fp32; CUDA: 64].", min=1, max=100_000)] = None,
    epochs: Annotated[Optional[int], _opt("--epochs", "Passes over the training text [10; unlimited with --max-minutes].", min=1)] = None,
    max_minutes: MaxMinutes = None,
    lr: Annotated[Optional[float], _opt("--lr", "Peak learning rate (AdamW, warmup then cosine) [2e-3].", min=1e-7, max=10.0)] = None,
    precision: Annotated[Literal["auto", "fp32", "bf16"], _opt("--precision", "Training arithmetic: bf16 autocast (weights stay fp32) or fp32; auto = bf16 where the CPU (AMX / AVX-512 BF16) or GPU does it natively.")] = "auto",
    valid_fraction: Annotated[float, _opt("--valid-fraction", "Last fraction of the corpus held out for validation (text8: standard 5M/5M split).", min=1e-4, max=0.9)] = 0.1,
    device: Device = "auto",
    seed: Seed = 1,
    resume: Resume = False,
    output: OutputModel = None,
    force: Force = False,
) -> None:
    """Train a character-level LSTM/GRU/RNN language model on a corpus.

    Example: textlab train-charlm tinyshakespeare --max-minutes 10 -o shakespeare

    Defaults depend on the device (see each option). On a CPU the trainer times its thread count against one thread now and then and keeps the faster (TEXTLAB_THREADS or OMP_NUM_THREADS fix the count).

    Distributed (one model, DistributedDataParallel; the --batch-size streams are split over the processes):
    torchrun --nproc-per-node 2 -m textlab train-charlm tinyshakespeare -o shakespeare
    """
    from functools import partial

    from textlab.atomic import check_writable_target
    from textlab.charlm.data import load_char_data
    from textlab.charlm.saving import save_charlm
    from textlab.charlm.train import make_configs, train_charlm
    from textlab.data.registry import get_dataset
    from textlab.distributed import launched_by_torchrun, relaunch_prefix
    from textlab.errors import TrainingInterrupted
    from textlab.runtime import checkpoint_dir_for, console, graceful_stop, pick_device, seed_everything
    from textlab.store import output_path

    def log(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    default_name = "charlm-" + (corpus if get_dataset(corpus) else Path(corpus).name.split(".")[0] or "corpus")
    path = output_path(output, default_name)
    configure = partial(make_configs, cell=cell, epochs=epochs, max_minutes=max_minutes, seed=seed, hidden=hidden,
                        layers=layers, dropout=dropout, seq_len=seq_len, batch_size=batch_size, lr=lr,
                        precision=precision)
    if launched_by_torchrun():
        _train_under_torchrun(corpus, path, valid_fraction, configure, device, resume, force, seed, log,
                              hint=f"{relaunch_prefix()} -m textlab train-charlm {shlex.quote(corpus)} --resume"
                              + (f" -o {shlex.quote(output)}" if output else ""))
        return
    torch_device = pick_device(device)
    checkpoint_dir = checkpoint_dir_for(path)
    check_writable_target(path, force, "model")

    seed_everything(seed)
    log(f"reading {corpus} ...")
    data = load_char_data(corpus, valid_fraction)
    info = data.summary()
    log(f"{info['train_chars']:,} training and {info['valid_chars']:,} validation characters, "
                  f"alphabet of {len(data.alphabet)}; device {torch_device}")
    model_config, train_config = configure(len(data.alphabet), torch_device.type)
    with graceful_stop() as stop:
        try:
            result = train_charlm(data, model_config, train_config, torch_device, checkpoint_dir=checkpoint_dir,
                                  resume=resume, stop=stop, log=log)
        except TrainingInterrupted as exc:
            again = f"textlab train-charlm {shlex.quote(corpus)} --resume" + (f" -o {shlex.quote(output)}" if output else "")
            raise TrainingInterrupted(f"{exc}; resume with: {again}", exc.signum) from None
    metrics = result.metrics
    settings = {"train": asdict(result.config), "device": str(torch_device), "history": result.history}
    save_charlm(path, result.model, data.alphabet, info, metrics, settings, force=force or resume)
    if checkpoint_dir.exists():
        import shutil

        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    _report_saved(log, path, metrics)


def _report_saved(log, path, metrics: dict) -> None:
    log(f"saved {path}: val loss {metrics['val_loss']:.4f} nats/char, perplexity "
        f"{metrics['val_perplexity']:.3f}, {metrics['val_bpc']:.4f} bits/char, "
        f"{metrics['train_chars_per_s']:,} chars/s")


def _train_under_torchrun(corpus, path, valid_fraction, configure, device, resume, force, seed, log, hint) -> None:
    """train-charlm as one process of a torchrun job; process 0 speaks for the job."""
    from textlab.charlm.distributed import train_under_torchrun
    from textlab.errors import TextlabError
    from textlab.runtime import seed_everything

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


@app.command("generate")
def generate_command(
    model: ModelName = None,
    seed: Annotated[Optional[str], _opt("--seed", "Text to start from (default: a newline).")] = None,
    length: Annotated[int, _opt("--len", "New characters to generate.", min=0, max=10_000_000)] = 1000,
    temperature: Annotated[float, _opt("--temperature", "Sampling temperature (lower = safer).", min=1e-4, max=100.0)] = 0.8,
    top_k: Annotated[Optional[int], _opt("--top-k", "Sample only among the K most likely characters.", min=1)] = None,
    random_seed: Annotated[Optional[int], _opt("--random-seed", "Seed of the sampling: the same number gives the same text (default: different every run).", min=0, max=2**63 - 1)] = None,
    stream: Annotated[bool, _opt("--stream", "Write characters as they are sampled.")] = False,
) -> None:
    """Generate text from a char LM: the seed followed by --len sampled characters.

    Without --model: your newest char LM whose alphabet has the seed's characters, else the
    shipped one (shipped:shakespeare).

    Example: textlab generate --model shakespeare --seed 'ROMEO:' --len 500 --temperature 0.7
    """
    import torch

    from textlab.charlm.alphabet import choose_charlm
    from textlab.charlm.sample import check_seed, default_seed, generate
    from textlab.charlm.saving import load_charlm

    torch_device = "cpu"  # one character at a time: the CPU is fast enough (1000 chars < 1 s)
    choice = choose_charlm(model, seed or "")
    loaded, codec, _card = load_charlm(choice.path, torch_device)
    seed_text = default_seed(codec) if seed is None else seed
    check_seed(seed_text, codec, choice.name)
    generator = torch.Generator().manual_seed(random_seed) if random_seed is not None else None
    announce_model(choice)
    out = sys.stdout
    if stream:
        out.write(seed_text)
        out.flush()

        def on_char(char: str) -> None:
            out.write(char)
            out.flush()

        generate(loaded, codec, seed_text, length, temperature, top_k, torch_device, on_char=on_char,
                 generator=generator)
        out.write("\n")
    else:
        text = generate(loaded, codec, seed_text, length, temperature, top_k, torch_device, generator=generator)
        out.write(text + "\n")
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
    from textlab.runtime import console, pick_device

    def before(choice, warning: str | None) -> None:
        announce_model(choice)
        if warning:
            console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True, style="yellow")

    result = evaluate_on_file(model, file, pick_device("auto"), before)
    if json_output:
        echo_json(result)
    else:
        sys.stdout.write(f"loss {result['loss']:.4f} nats/char  perplexity {result['perplexity']:.3f}  "
                         f"bpc {result['bpc']:.4f}  over {result['chars']:,} characters\n")
