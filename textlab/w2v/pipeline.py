"""``train-w2v`` as a library call: corpus → vocabulary and id array → training (resumable) →
saved model with its card."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import time
from pathlib import Path

import numpy as np

from textlab.atomic import check_writable_target
from textlab.distributed import Distributed, init_from_environment, launched_by_torchrun
from textlab.data.corpus import resolve_corpus
from textlab.errors import DataError, TrainingInterrupted, UsageError
from textlab.runtime import checkpoint_dir_for, console, graceful_stop, pick_device
from textlab.store import config_from_dict
from textlab.text import TokenizerOptions, Vocab
from textlab.w2v.corpus import encode_corpus
from textlab.w2v.model import ARCHS, CONFIG_LIMITS, Word2Vec, Word2VecConfig
from textlab.w2v.saving import save_word2vec
from textlab.w2v.shards import iter_shard_lines, splittable
from textlab.w2v.train import CHUNK_WORDS, SYNC_MODES, Interrupted, TrainState, load_training_checkpoint, train


def train_word2vec(
    corpus_spec: str,
    config: Word2VecConfig,
    output: Path,
    force: bool = False,
    resume: bool = False,
    device: str = "auto",
    stop_after_chunks: int | None = None,
    resume_hint: str = "",
    sync: str = "sum",
    sync_every: int = 1,
) -> dict:
    """Train and save a model at ``output``; returns a summary (paths, sizes, speed, loss).

    Under ``torchrun`` this trains one model with torch.distributed (see
    :func:`textlab.distributed.init_from_environment`): each rank reads its shard, the ranks
    share one vocabulary and combine their matrices every ``sync_every`` chunks of
    ``CHUNK_WORDS`` words (``sync``: "sum" of their changes, or "average"), and only rank 0
    writes the model."""
    if config.arch not in ARCHS:
        raise UsageError(f"unknown --arch {config.arch!r}; use skipgram or cbow")
    if sync not in SYNC_MODES:
        raise UsageError(f"unknown sync mode {sync!r}; use {' or '.join(SYNC_MODES)}")
    if sync_every < 1:
        raise UsageError("sync_every must be at least 1 (chunks between synchronisations)")
    checkpoint_dir = checkpoint_dir_for(output)
    check_writable_target(output, force, "model")
    if launched_by_torchrun():
        if resume:
            raise UsageError("--resume is not supported for distributed (torchrun) training yet")
        dist = init_from_environment(device)
        try:
            return train_distributed(corpus_spec, config, output, dist, force=force, sync=sync, sync_every=sync_every)
        finally:
            dist.close()
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
    save_word2vec(output, model.cpu(), corpus.vocab, data, metrics, force=force, history=state.history)
    if checkpoint_dir.exists():
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return {"model": str(output), **data, **metrics, "prepare_seconds": round(prepared - started, 2),
            "wall_seconds": round(seconds, 2)}


def train_distributed(corpus_spec: str, config: Word2VecConfig, output: Path, dist: Distributed, force: bool = False,
                      sync: str = "sum", sync_every: int = 1) -> dict:
    """One rank of a torchrun job: shard → shared vocabulary → training with periodic
    synchronisation of the matrices → rank 0 saves. Every rank returns the summary (with the SHA-256 of the saved vectors)."""
    if dist.is_main:  # rank 0 downloads a missing dataset; the others wait for it
        path = resolve_corpus(corpus_spec)
    dist.all_reduce([0])
    if not dist.is_main:
        path = resolve_corpus(corpus_spec, download=False)
    options = TokenizerOptions(lang=config.lang)
    started = time.perf_counter()
    lines = iter_shard_lines(path, dist.rank, dist.world_size)
    corpus = encode_corpus(path, options, min_count=config.min_count, max_vocab=config.max_vocab or None,
                           lines=lines, merge_counts=lambda words, counts: merge_counts(dist, words, counts))
    config = dataclasses.replace(config, vocab_size=len(corpus.vocab), workers=1)
    model = Word2Vec(config).to(dist.device)  # same seed on every rank: the same initial matrices
    tokens, training_words = (int(x) for x in dist.all_reduce([corpus.raw_tokens, corpus.num_words]))
    if dist.is_main:
        console.print(f"corpus {path}: {tokens:,} tokens over {dist.world_size} ranks ({dist.backend}), "
                      f"vocabulary {len(corpus.vocab):,} words, {training_words:,} training words "
                      f"(rank 0: {corpus.num_words:,})")
    prepared = time.perf_counter()
    try:
        with graceful_stop() as stop:
            state = train(model, corpus, stop=stop, dist=dist, sync=sync, sync_every=sync_every)
    except Interrupted as exc:
        raise TrainingInterrupted("distributed training stopped (no checkpoint: distributed runs cannot be "
                                  "resumed yet)", exc.signum) from None
    seconds = time.perf_counter() - prepared
    vectors = model.vectors.detach().float().cpu()
    digest = hashlib.sha256(vectors.numpy().tobytes()).hexdigest()
    digests = dist.all_gather_bytes(digest.encode())
    data = {"corpus": str(corpus_spec), "path": str(path), "tokens": tokens, "training_words": training_words,
            "vocab_size": len(corpus.vocab),
            "distributed": {"world_size": dist.world_size, "backend": dist.backend, "shard": "byte ranges"
                            if splittable(path) else "every world_size-th line", "sync": sync,
                            "sync_every_words": sync_every * CHUNK_WORDS}}
    matrix_bytes = 2 * vectors.numel() * 4
    metrics = {"train_seconds": round(state.seconds, 2),
               "words_per_second": round(tokens * config.epochs / max(state.seconds, 1e-9)),
               "mean_loss": round(state.loss_sum / max(state.pairs, 1), 4),
               "syncs": state.syncs, "sync_seconds": round(state.sync_seconds, 2), "sync_bytes": matrix_bytes}
    if dist.is_main:
        save_word2vec(output, model.cpu(), corpus.vocab, data, metrics, force=force, history=state.history)
    dist.all_reduce([0])  # the model is on disk before any rank returns
    return {"model": str(output), **data, **metrics, "prepare_seconds": round(prepared - started, 2),
            "wall_seconds": round(seconds, 2), "rank": dist.rank, "vectors_sha256": digest,
            "ranks_agree": len(set(digests)) == 1}


def merge_counts(dist: Distributed, words: list[str], counts: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Word counts summed over all ranks' shards, exchanged as ``word<TAB>count`` lines; words
    keep their first-seen order across the shards (rank 0's first), as in a single pass."""
    payload = "".join(f"{w}\t{c}\n" for w, c in zip(words, counts.tolist())).encode("utf-8")
    merged: dict[str, int] = {}
    for part in dist.all_gather_bytes(payload):
        for line in part.decode("utf-8").split("\n")[:-1]:
            word, count = line.rsplit("\t", 1)
            merged[word] = merged.get(word, 0) + int(count)
    return list(merged), np.fromiter(merged.values(), dtype=np.int64, count=len(merged))
