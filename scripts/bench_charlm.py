"""Benchmark the char LM: train with a time budget using the train-charlm defaults, measure the
validation text with the same code as `textlab eval-charlm`, time sampling; print ONE JSON line.

Example: python scripts/bench_charlm.py --corpus tinyshakespeare --max-minutes 10
"""

from __future__ import annotations

import argparse
import json
import os
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
    parser.add_argument("--cell", default="lstm")
    for name in ("hidden", "layers", "seq-len", "batch-size"):
        parser.add_argument(f"--{name}", type=int, default=None)
    for name in ("dropout", "lr"):
        parser.add_argument(f"--{name}", type=float, default=None)
    args = parser.parse_args()

    os.environ.setdefault("TEXTLAB_NO_PROGRESS", "1")
    import torch

    from textlab.charlm.data import CharCodec, load_char_data
    from textlab.charlm.evaluate import evaluate_file
    from textlab.charlm.sample import default_seed, generate
    from textlab.charlm.train import make_configs, train_charlm
    from textlab.runtime import pick_device, seed_everything

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    seed_everything(args.seed)
    data = load_char_data(args.corpus, 0.1)
    model_config, train_config = make_configs(
        len(data.alphabet), device.type, args.cell, None, args.max_minutes, args.seed, hidden=args.hidden,
        layers=args.layers, dropout=args.dropout, seq_len=args.seq_len, batch_size=args.batch_size, lr=args.lr)
    result = train_charlm(data, model_config, train_config, device, log=lambda line: print(line, file=sys.stderr))
    codec = CharCodec(data.alphabet)

    with tempfile.TemporaryDirectory() as tmp:  # the held-out text as a file, measured like eval-charlm
        held_out = Path(tmp) / "valid.txt"
        held_out.write_text(codec.decode(data.valid), encoding="utf-8")
        measured = evaluate_file(result.model, codec, held_out, device)
        test = None
        if data.test is not None:  # text8: the standard test split
            held_out.write_text(codec.decode(data.test), encoding="utf-8")
            test = evaluate_file(result.model, codec, held_out, device)

    model = result.model.to("cpu")
    seed = default_seed(codec)
    generate(model, codec, seed, 50)  # warm up
    start, cpu_start = time.perf_counter(), time.process_time()
    generate(model, codec, seed, 1000, temperature=0.8)
    sample_seconds, sample_cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start

    print(json.dumps({
        "corpus": args.corpus, "val_loss": round(measured["loss"], 4), "val_bpc": round(measured["bpc"], 4),
        "val_perplexity": round(measured["perplexity"], 3), "val_chars": measured["chars"],
        **({"test_loss": round(test["loss"], 4), "test_bpc": round(test["bpc"], 4)} if test else {}),
        "train_chars_per_s": result.metrics["train_chars_per_s"],
        "train_chars_per_cpu_s": result.metrics["train_chars_per_cpu_s"],
        "sample_chars_per_s": round(1000 / sample_seconds), "sample_1000_chars_s": round(sample_seconds, 3),
        "sample_1000_chars_cpu_s": round(sample_cpu_seconds, 3), "load_average": round(os.getloadavg()[0], 2),
        "parameters": result.metrics["parameters"], "epochs": result.metrics["epochs"],
        "device": str(device), "threads": torch.get_num_threads(), "minutes": result.metrics["minutes"],
        "max_minutes": args.max_minutes, "model": model_config.to_dict(),
        "train": {"seq_len": train_config.seq_len, "batch_size": train_config.batch_size, "lr": train_config.lr},
    }))


if __name__ == "__main__":
    main()
