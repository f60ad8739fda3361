"""``train-w2v`` as a library call: corpus → id file (encoded once, cached) → engine → training
(resumable) → saved model with its card. A CPU run with the hogwild engine never imports torch
(the device is decided without it where the machine has no GPU: :func:`~textlab.runtime.device.device_name`)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import time
from pathlib import Path

import numpy as np

from textlab.data.corpus import resolve_corpus
from textlab.distributed import Distributed, init_from_environment, launched_by_torchrun, saves_here
from textlab.errors import DataError, TrainingInterrupted, UsageError
from textlab.reservation import reserve_output
from textlab.resume import check_epochs_left, flag, reconcile
from textlab.runtime.checkpoints import checkpoint_dir_for
from textlab.runtime.device import device_name
from textlab.runtime.output import say
from textlab.runtime.signals import graceful_stop
from textlab.store.cards import config_from_dict
from textlab.text import TokenizerOptions, Vocab
from textlab.w2v.corpus import EncodedCorpus, encode_corpus
from textlab.w2v.config import STEP_MODES, device_step
from textlab.w2v.model import ARCHS, CONFIG_LIMITS, Word2Vec, Word2VecConfig
from textlab.w2v.plan import CHUNK_WORDS
from textlab.w2v.saving import save_word2vec
from textlab.w2v.train import (
    ENGINES, SYNC_MODES, Interrupted, TrainState, load_training_checkpoint, train,
)

#: Options that may change when a run is resumed (they say how long, how fast or where to go
#: on); every other option defines the model or its data and must match the checkpoint.
RESUMABLE = ("epochs", "lr", "min_lr", "device", "batch_size", "row_limit", "compile")


def choose_engine(engine: str, device: str) -> str:
    """``auto``: the device engine on a GPU; on a CPU the hogwild engine, which was measured
    faster there for both architectures (README, word2vec engines). ``device``: its name."""
    if engine not in ("auto", *ENGINES):
        raise UsageError(f"unknown --engine {engine!r}; use auto, {' or '.join(ENGINES)}")
    on_cpu = str(device).split(":")[0] == "cpu"
    if engine == "auto":
        return "hogwild" if on_cpu else "device"
    if engine == "hogwild" and not on_cpu:
        raise UsageError("--engine hogwild trains on the CPU; use --engine device (or auto) with --device cuda")
    return engine


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
    cache: bool = True,
    given: dict | None = None,
) -> dict:
    """Train and save a model at ``output``; returns a summary (paths, sizes, speed, loss).

    ``given``: the options the user typed (by config field name); with ``resume`` those in
    :data:`RESUMABLE` are applied and any other that differs from the checkpoint is refused.

    Under ``torchrun`` this trains one model with torch.distributed (see
    :func:`textlab.distributed.init_from_environment`): rank 0 encodes the corpus once, every
    rank trains its own share of the same id file, the ranks combine their matrices every
    ``sync_every`` chunks of ``CHUNK_WORDS`` positions (``sync``: "sum" of their changes, or
    "average"), and only rank 0 writes the model."""
    if config.arch not in ARCHS:
        raise UsageError(f"unknown --arch {config.arch!r}; use skipgram or cbow")
    if sync not in SYNC_MODES:
        raise UsageError(f"unknown sync mode {sync!r}; use {' or '.join(SYNC_MODES)}")
    if config.compile not in STEP_MODES:
        raise UsageError(f"unknown --compile {config.compile!r}; use {', '.join(STEP_MODES)}")
    if sync_every < 1:
        raise UsageError("sync_every must be at least 1 (chunks between synchronisations)")
    if launched_by_torchrun() and resume:
        raise UsageError("--resume is not supported for distributed (torchrun) training yet")
    with reserve_output(output, force, "model", hold=saves_here(), resume=resume):  # before any work, for the whole job
        if not launched_by_torchrun():
            return _train_here(corpus_spec, config, output, force, resume, device, stop_after_chunks, resume_hint,
                               cache, given)
        dist = init_from_environment(device)
        try:
            return train_distributed(corpus_spec, config, output, dist, force=force, sync=sync,
                                     sync_every=sync_every, cache=cache)
        finally:
            dist.close()


def _train_here(corpus_spec: str, config: Word2VecConfig, output: Path, force: bool, resume: bool, device: str,
                stop_after_chunks: int | None, resume_hint: str, cache: bool, given: dict | None) -> dict:
    """:func:`train_word2vec` in this one process, its output reserved."""
    checkpoint_dir = checkpoint_dir_for(output)
    checkpoint, changes = None, {}
    if resume:
        checkpoint = load_training_checkpoint(checkpoint_dir)
        saved = config_from_dict(Word2VecConfig, checkpoint["config"], str(checkpoint_dir), limits=CONFIG_LIMITS)
        given = {k: v for k, v in (given or {}).items() if k != "corpus"}
        if not _same_corpus(corpus_spec, checkpoint["extra"]["corpus"]):
            given["corpus"] = corpus_spec
        changes = reconcile({**dataclasses.asdict(saved), "corpus": checkpoint["extra"]["corpus"]}, given,
                            RESUMABLE, where=str(checkpoint_dir), flags={"corpus": "CORPUS"})
        config = dataclasses.replace(saved, **{k: v for k, v in changes.items() if k != "device"})
        corpus_spec = checkpoint["extra"]["corpus"]
        say(f"resuming from {checkpoint_dir} ({checkpoint['state']['words_done']:,} words trained)"
            + (f"; applied {', '.join(f'{k}={v}' for k, v in changes.items())}" if changes else ""))
    device = device_name(device)
    engine = choose_engine(config.engine, device)
    note_other_engine_options(engine, given)
    path = resolve_corpus(corpus_spec)
    options = TokenizerOptions(lang=config.lang)
    started = time.perf_counter()
    if engine == "hogwild":  # the loop loaded first: its memory adds up with neither the corpus's nor the model's
        from textlab.w2v import kernels

        kernels.load()
    vocab = Vocab.from_tsv(checkpoint["extra"]["vocab"], where=str(checkpoint_dir)) if checkpoint else None
    corpus = encode_corpus(path, options, min_count=config.min_count, max_vocab=config.max_vocab or None,
                           vocab=vocab, cache=cache)
    try:
        if "epochs" in changes:
            check_epochs_left(config.epochs, checkpoint["state"]["words_done"] / max(corpus.num_words, 1),
                              str(checkpoint_dir))
        config = dataclasses.replace(config, vocab_size=len(corpus.vocab))
        if engine == "device":  # the card records the step the device engine really took
            size, limit = device_step(config)
            config = dataclasses.replace(config, batch_size=size, row_limit=limit)  # the mode it ran: metrics
        model = Word2Vec(config)
        state = None
        if checkpoint is not None:
            state = _restore(model, checkpoint, checkpoint_dir, engine, config)
        say(f"corpus {path}: {corpus.raw_tokens:,} tokens, vocabulary {len(corpus.vocab):,} words "
            f"(min count {config.min_count}), {corpus.num_words:,} training words; "
            f"training {config.arch} on {device} with the {engine} engine")
        prepared = time.perf_counter()
        extra = {"corpus": str(corpus_spec), "vocab": corpus.vocab.to_tsv(), "engine": engine}
        try:
            with graceful_stop() as stop:
                state = train(model, corpus, state, stop=stop, checkpoint_dir=checkpoint_dir, checkpoint_extra=extra,
                              stop_after_chunks=stop_after_chunks, engine=engine, device=device)
        except Interrupted as exc:
            raise TrainingInterrupted(f"training stopped; checkpoint saved in {checkpoint_dir}; resume with: "
                                      f"{resume_hint or 'textlab train-w2v ... --resume'}", exc.signum) from None
        seconds = time.perf_counter() - prepared
    finally:
        _discard_temporary(corpus)
    data = _data_card(corpus_spec, path, corpus)
    metrics = _metrics(state, corpus.raw_tokens, config.epochs, corpus, device, engine)
    if state.pairs == 0:
        say(f"warning: no (word, context) pair was trained: every word was subsampled away (--sample {config.sample:g}) "
            "or no sentence kept two words; the vectors are their random start. A corpus this small needs "
            "--sample 0", style="yellow")
    with graceful_stop("saving the model"):  # a signal now would lose the finished run: the save goes on
        save_word2vec(output, model, corpus.vocab, data, metrics, force=force or resume, history=state.history,
                      release=True)  # the job is done with the matrices once they are written
        if checkpoint_dir.exists():
            shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return {"model": str(output), **data, **metrics, "dim": config.dim, "prepare_seconds": round(prepared - started, 2),
            "wall_seconds": round(seconds, 2)}


def _same_corpus(spec: str, saved: str) -> bool:
    if spec == saved:
        return True
    try:
        return Path(spec).resolve() == Path(saved).resolve() and Path(spec).exists()
    except OSError:
        return False


def _restore(model: Word2Vec, checkpoint: dict, checkpoint_dir: Path, engine: str, config: Word2VecConfig) -> TrainState:
    shape = (config.vocab_size, config.dim)
    for name in ("vectors", "context"):
        if tuple(checkpoint[name].shape) != shape:
            raise DataError(f"{checkpoint_dir}: {name} has shape {tuple(checkpoint[name].shape)}, expected {shape}")
        np.copyto(getattr(model, name), checkpoint[name])
    state = TrainState(**checkpoint["state"])
    saved_engine = checkpoint["extra"].get("engine", "hogwild")
    if engine != saved_engine and len(state.cursors) != 1:
        raise UsageError(f"the checkpoint in {checkpoint_dir} was made by the {saved_engine} engine with "
                         f"{len(state.cursors)} workers; resume it with --engine {saved_engine}")
    return state


def _data_card(corpus_spec: str, path: Path, corpus: EncodedCorpus) -> dict:
    return {"corpus": str(corpus_spec), "path": str(path), "tokens": corpus.raw_tokens,
            "training_words": corpus.num_words, "vocab_size": len(corpus.vocab),
            "id_file": str(corpus.file.path) if corpus.reused or corpus.file.path.exists() else None}


def _metrics(state: TrainState, tokens: int, epochs: int, corpus: EncodedCorpus, device, engine: str) -> dict:
    return {"train_seconds": round(state.seconds, 2),
            "words_per_second": round(tokens * epochs / max(state.seconds, 1e-9)),
            "encode_seconds": round(corpus.encode_seconds, 2), "encoding_reused": corpus.reused,
            "mean_loss": round(state.loss_sum / max(state.pairs, 1), 4), "pairs": state.pairs, "device": str(device),
            "engine": engine,
            **state.engine_info}


#: Options that set one engine's work only (the other trains without them).
ENGINE_OPTIONS = {"device": ("batch_size", "compile"), "hogwild": ("workers",)}


def note_other_engine_options(engine: str, given: dict | None) -> None:
    """Name the options typed for the engine that does not run (given, they are not dropped unsaid)."""
    unused = [name for other, names in ENGINE_OPTIONS.items() if other != engine for name in names
              if name in (given or {})]
    if unused:
        flags = " and ".join(flag(name) for name in unused)
        verb = "set" if len(unused) > 1 else "sets"
        say(f"note: {flags} {verb} the {'device' if engine == 'hogwild' else 'hogwild'} engine's work; "
            f"the {engine} engine runs here and trains without {'it' if len(unused) == 1 else 'them'} "
            "(--engine chooses)", style="yellow")


def _discard_temporary(corpus: EncodedCorpus) -> None:
    """Remove the id file when it was encoded into a temporary file (--no-cache, or no cache)."""
    if corpus.temporary:
        try:
            os.unlink(corpus.file.path)
        except OSError:
            pass


def train_distributed(corpus_spec: str, config: Word2VecConfig, output: Path, dist: Distributed, force: bool = False,
                      sync: str = "sum", sync_every: int = 1, cache: bool = True) -> dict:
    """One rank of a torchrun job: rank 0 encodes the corpus (or finds it in the cache) while the
    others wait; every rank trains its share of the same id file with periodic synchronisation
    of the matrices; rank 0 saves. Every rank returns the summary (with the SHA-256 of its
    final vectors, which must agree)."""
    engine = choose_engine(config.engine, str(dist.device))
    started = time.perf_counter()
    if dist.is_main:  # rank 0 downloads a missing dataset and encodes; the others wait for the id file
        path = resolve_corpus(corpus_spec)
        corpus = encode_corpus(path, TokenizerOptions(lang=config.lang), min_count=config.min_count,
                               max_vocab=config.max_vocab or None, cache=cache)
        shared = f"{path}\n{corpus.file.path}\n{corpus.encode_seconds}".encode("utf-8")
    else:
        shared = b""
    try:
        path_text, id_path, encode_seconds = dist.all_gather_bytes(shared)[0].decode("utf-8").split("\n")
        if not dist.is_main:
            from textlab.w2v.idfile import open_id_file

            opened = open_id_file(Path(id_path))
            corpus = EncodedCorpus(opened, int(opened.header["raw_tokens"]), float(encode_seconds))
        path = Path(path_text)
        config = dataclasses.replace(config, vocab_size=len(corpus.vocab), workers=1)
        model = Word2Vec(config)  # same seed on every rank: the same initial matrices
        if dist.is_main:
            say(f"corpus {path}: {corpus.raw_tokens:,} tokens, vocabulary {len(corpus.vocab):,} words, "
                f"{corpus.num_words:,} training words over {dist.world_size} ranks ({dist.backend}, {engine} engine)")
        prepared = time.perf_counter()
        try:
            with graceful_stop() as stop:
                state = train(model, corpus, stop=stop, dist=dist, sync=sync, sync_every=sync_every, engine=engine,
                              device=dist.device)
        except Interrupted as exc:
            raise TrainingInterrupted("distributed training stopped (no checkpoint: distributed runs cannot be "
                                      "resumed yet)", exc.signum) from None
        seconds = time.perf_counter() - prepared
    finally:
        dist.barrier()  # every rank is done with the id file before an uncached one goes
        if dist.is_main:
            _discard_temporary(corpus)
    vectors = np.ascontiguousarray(model.vectors, dtype=np.float32)
    digest = hashlib.sha256(vectors.tobytes()).hexdigest()
    digests = dist.all_gather_bytes(digest.encode())
    data = {**_data_card(corpus_spec, path, corpus),
            "distributed": {"world_size": dist.world_size, "backend": dist.backend, "shard": "contiguous id-file ranges",
                            "sync": sync, "sync_every_words": sync_every * CHUNK_WORDS}}
    matrix_bytes = 2 * vectors.size * 4
    metrics = {**_metrics(state, corpus.raw_tokens, config.epochs, corpus, dist.device, engine),
               "syncs": state.syncs, "sync_seconds": round(state.sync_seconds, 2), "sync_bytes": matrix_bytes}
    if dist.is_main:
        with graceful_stop("saving the model"):
            save_word2vec(output, model, corpus.vocab, data, metrics, force=force, history=state.history)
    dist.barrier()  # the model is on disk before any rank returns
    return {"model": str(output), **data, **metrics, "dim": config.dim, "prepare_seconds": round(prepared - started, 2),
            "wall_seconds": round(seconds, 2), "rank": dist.rank, "vectors_sha256": digest,
            "ranks_agree": len(set(digests)) == 1}
