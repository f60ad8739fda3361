"""Benchmark the char LM: train with a time budget using the train-charlm defaults, measure the
validation text with the same code as `textlab eval-charlm`, time sampling as `textlab generate` does
(the saved model, numpy sampler); print ONE JSON line.

Example: python scripts/bench_charlm.py --corpus tinyshakespeare --max-minutes 10

The JSON line records the CPU (model name, the flags that decide the arithmetic), the load
average before and after, and the set-up probe's measurements and choice.

With ``--procs N`` the training runs as ``torchrun --nproc-per-node N -m textlab train-charlm``
(DistributedDataParallel, gloo on CPU; ``--threads`` then sets OMP_NUM_THREADS per process) and
the saved model is measured the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="tinyshakespeare")
    parser.add_argument("--max-minutes", type=float, default=10.0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--procs", type=int, default=0, help="train with torchrun and N processes (0 = in this process)")
    parser.add_argument("--cell", default="lstm")
    parser.add_argument("--precision", default=None, help="auto | fp32 | bf16 (default: as train-charlm)")
    parser.add_argument("--valid-fraction", type=float, default=0.1, help="held-out share (smaller = quicker validation)")
    for name in ("hidden", "layers", "seq-len", "batch-size"):
        parser.add_argument(f"--{name}", type=int, default=None)
    for name in ("dropout", "lr"):
        parser.add_argument(f"--{name}", type=float, default=None)
    args = parser.parse_args()

    os.environ.setdefault("TEXTLAB_NO_PROGRESS", "1")
    import torch

    from textlab.charlm.data import CharCodec, load_char_data
    from textlab.charlm.evaluate import evaluate_file
    from textlab.charlm.pipeline import plan_setup
    from textlab.charlm.alphabet import default_seed
    from textlab.charlm.light import LightCharLM, generate
    from textlab.charlm.saving import save_charlm
    from textlab.charlm.train import train_charlm
    from textlab.runtime.device import pick_device
    from textlab.runtime.machine import machine_info
    from textlab.runtime.seeding import seed_everything

    machine_before = machine_info()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    seed_everything(args.seed)
    data = load_char_data(args.corpus, args.valid_fraction)
    codec = CharCodec(data.alphabet)
    log = lambda line: print(line, file=sys.stderr)  # noqa: E731
    setup_decided = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.procs:
            model, metrics, model_dict, train_dict, distributed = train_with_torchrun(args, Path(tmp) / "model")
        else:  # exactly what train-charlm does: defaults, the set-up probe where options are left open
            overrides = {name: getattr(args, name) for name in ("hidden", "layers", "dropout", "seq_len", "batch_size", "lr")}
            setup = plan_setup(data, device, args.cell, None, args.max_minutes, args.seed, args.precision or "auto",
                               overrides, log)
            result = train_charlm(data, setup.model, setup.train, device, log=log)
            model, metrics, model_dict, distributed = result.model, result.metrics, setup.model.to_dict(), None
            train_dict = {"seq_len": setup.train.seq_len, "batch_size": setup.train.batch_size, "lr": setup.train.lr,
                          "max_minutes": round(setup.train.max_minutes, 3)}
            setup_decided = setup.decided
        model = model.to(device)
        held_out = Path(tmp) / "valid.txt"  # the held-out text as a file, measured like eval-charlm
        held_out.write_text(codec.decode(data.valid), encoding="utf-8")
        measured = evaluate_file(model, codec, held_out, device)
        test = None
        if data.test is not None:  # text8: the standard test split
            held_out.write_text(codec.decode(data.test), encoding="utf-8")
            test = evaluate_file(model, codec, held_out, device)

        # sampling as `textlab generate` does it: the saved model, read by the numpy sampler
        saved = save_charlm(Path(tmp) / "sampled", model.to("cpu"), codec.alphabet, data={}, metrics={}, settings={})
        sampler, seed = LightCharLM(saved), default_seed(codec)
        generate(sampler, seed, 50)  # warm up
        start, cpu_start = time.perf_counter(), time.process_time()
        generate(sampler, seed, 1000, temperature=0.8)
        sample_seconds, sample_cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start

    print(json.dumps({
        "corpus": args.corpus, "val_loss": round(measured["loss"], 4), "val_bpc": round(measured["bpc"], 4),
        "val_perplexity": round(measured["perplexity"], 3), "val_chars": measured["chars"],
        **({"test_loss": round(test["loss"], 4), "test_bpc": round(test["bpc"], 4)} if test else {}),
        "train_chars_per_s": metrics["train_chars_per_s"],
        "train_chars_per_cpu_s": metrics["train_chars_per_cpu_s"], "procs": args.procs or 1,
        "torchrun": bool(args.procs), **({"distributed": distributed} if distributed else {}),
        "sample_chars_per_s": round(1000 / sample_seconds), "sample_1000_chars_s": round(sample_seconds, 3),
        "sample_1000_chars_cpu_s": round(sample_cpu_seconds, 3),
        "parameters": metrics["parameters"], "epochs": metrics["epochs"], "steps": metrics["steps"],
        "precision": metrics.get("precision"), "threads_tuner": metrics.get("threads"),
        "device": str(device), "threads": (args.threads or int(os.environ.get("OMP_NUM_THREADS", "1"))) if args.procs
        else torch.get_num_threads(), "minutes": metrics["minutes"],
        "max_minutes": args.max_minutes, "model": model_dict, "train": train_dict, "setup": setup_decided,
        "machine_before": machine_before, "machine_after": machine_info(),
    }))


def train_with_torchrun(args, output: Path):
    """Train with ``torchrun -m textlab train-charlm`` (its log to stderr) and load what it saved."""
    from textlab.charlm.saving import load_charlm

    from textlab.distributed import environment_without_torchrun, local_torchrun

    command = local_torchrun(args.procs, "-m", "textlab", "train-charlm", args.corpus,
               "--max-minutes", str(args.max_minutes), "--device", args.device, "--seed", str(args.seed),
               "--cell", args.cell, "--valid-fraction", str(args.valid_fraction), "-o", str(output))
    for name in ("hidden", "layers", "seq-len", "batch-size", "dropout", "lr", "precision"):
        value = getattr(args, name.replace("-", "_"))
        if value is not None:
            command += [f"--{name}", str(value)]
    env = environment_without_torchrun()
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    subprocess.run(command, env=env, stdout=sys.stderr, check=True)
    model, _codec, card = load_charlm(output)
    train = card.extra["training"]["train"]
    return (model, card.metrics, card.config, {k: train[k] for k in ("seq_len", "batch_size", "lr")},
            card.data.get("distributed"))


if __name__ == "__main__":
    main()
