"""``train-w2v`` as a library call: corpus → vocabulary and id array → training (resumable) →
saved model with its card."""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

from textlab.atomic import check_writable_target
from textlab.data.corpus import resolve_corpus
from textlab.errors import DataError, TrainingInterrupted, UsageError
from textlab.runtime import console, graceful_stop, pick_device
from textlab.store import config_from_dict
from textlab.text import TokenizerOptions, Vocab
from textlab.w2v.corpus import encode_corpus
from textlab.w2v.model import ARCHS, CONFIG_LIMITS, Word2Vec, Word2VecConfig
from textlab.w2v.saving import save_word2vec
from textlab.w2v.train import Interrupted, TrainState, load_training_checkpoint, train


def checkpoint_dir_for(output: Path) -> Path:
    return output.with_name(output.name + ".ckpt")


def train_word2vec(
    corpus_spec: str,
    config: Word2VecConfig,
    output: Path,
    force: bool = False,
    resume: bool = False,
    device: str = "auto",
    stop_after_chunks: int | None = None,
    resume_hint: str = "",
) -> dict:
    """Train and save a model at ``output``; returns a summary (paths, sizes, speed, loss)."""
    if config.arch not in ARCHS:
        raise UsageError(f"unknown --arch {config.arch!r}; use skipgram or cbow")
    checkpoint_dir = checkpoint_dir_for(output)
    check_writable_target(output, force, "model")
    torch_device = pick_device(device)
    checkpoint = None
    if resume:
        checkpoint = load_training_checkpoint(checkpoint_dir)
        config = config_from_dict(Word2VecConfig, checkpoint["config"], str(checkpoint_dir), limits=CONFIG_LIMITS)
        corpus_spec = checkpoint["extra"]["corpus"]
        console.print(f"resuming from {checkpoint_dir} ({checkpoint['state']['words_done']:,} words trained)")
    path = resolve_corpus(corpus_spec)
    options = TokenizerOptions(lang=config.lang)
    started = time.perf_counter()
    if checkpoint is not None:
        vocab = Vocab.from_tsv(checkpoint["extra"]["vocab"], where=str(checkpoint_dir))
        corpus = encode_corpus(path, options, vocab=vocab)
    else:
        corpus = encode_corpus(path, options, min_count=config.min_count, max_vocab=config.max_vocab or None)
    config = dataclasses.replace(config, vocab_size=len(corpus.vocab))
    model = Word2Vec(config)
    state = None
    if checkpoint is not None:
        shape = (config.vocab_size, config.dim)
        for name in ("vectors", "context"):
            if tuple(checkpoint[name].shape) != shape:
                raise DataError(f"{checkpoint_dir}: {name} has shape {tuple(checkpoint[name].shape)}, expected {shape}")
            getattr(model, name).data.copy_(checkpoint[name])
        state = TrainState(**checkpoint["state"])
    model.to(torch_device)
    console.print(f"corpus {path}: {corpus.raw_tokens:,} tokens, vocabulary {len(corpus.vocab):,} words "
                  f"(min count {config.min_count}), {corpus.num_words:,} training words")
    prepared = time.perf_counter()
    extra = {"corpus": str(corpus_spec), "vocab": corpus.vocab.to_tsv()}
    try:
        with graceful_stop() as stop:
            state = train(model, corpus, state, stop=stop, checkpoint_dir=checkpoint_dir,
                          checkpoint_extra=extra, stop_after_chunks=stop_after_chunks)
    except Interrupted as exc:
        raise TrainingInterrupted(f"training stopped; checkpoint saved in {checkpoint_dir}; resume with: "
                                  f"{resume_hint or 'textlab train-w2v ... --resume'}", exc.signum) from None
    seconds = time.perf_counter() - prepared
    data = {"corpus": str(corpus_spec), "path": str(path), "tokens": corpus.raw_tokens,
            "training_words": corpus.num_words, "vocab_size": len(corpus.vocab)}
    metrics = {"train_seconds": round(state.seconds, 2),
               "words_per_second": round(corpus.raw_tokens * config.epochs / max(state.seconds, 1e-9)),
               "mean_loss": round(state.loss_sum / max(state.pairs, 1), 4)}
    save_word2vec(output, model.cpu(), corpus.vocab, data, metrics, force=force)
    if checkpoint_dir.exists():
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return {"model": str(output), **data, **metrics, "prepare_seconds": round(prepared - started, 2),
            "wall_seconds": round(seconds, 2)}
