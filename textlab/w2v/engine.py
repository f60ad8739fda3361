"""The device engine: word2vec in large steps of tensor operations that stay on the device.

Per chunk of the id file (:data:`textlab.w2v.plan.CHUNK_WORDS` positions), all on the device:
subsampling (one uniform draw per position against the word's keep probability), compaction
of the kept words (a prefix sum and a scatter: no data-dependent shapes), sentence numbers (a
prefix sum over the separators), and the uniforms every step of the chunk will use (a span and
K noise words per kept position), all from the chunk's seed. The chunk is copied into buffers
that never move, and steps of ``batch_size`` centre words run on them: each is one call of
:class:`textlab.w2v.step.DeviceStep` (window, noise words, scores, the update of both matrices),
compiled into one graph and, on CUDA, replayed as one captured CUDA graph
(:mod:`textlab.w2v.compiled`). The only value read back per chunk is its count of kept words
(the step loop's length), and on CUDA it is prepared on a side stream while the previous chunk's
steps run, so the host never waits for the device inside a chunk; loss and pair counts stay on
the device and are read when progress is drawn.

Padding (context positions outside the window, the sentence or the chunk; centre words after
the chunk's last) points at a sink row appended to both matrices, zeroed by every step, so that
every tensor has a static shape. How a step's summed updates are capped per row, and why, is in
:mod:`textlab.w2v.step`.
"""

from __future__ import annotations

import numpy as np
import torch

from textlab.w2v.compiled import StepRunner, describe
from textlab.w2v.config import device_step, step_mode
from textlab.w2v.corpus import EncodedCorpus
from textlab.w2v.model import Word2Vec
from textlab.w2v.plan import chunk_seed
from textlab.w2v.sampling import NoiseSampler
from textlab.w2v.step import DeviceStep, StepSpec


class _Prepared:
    """A chunk made ready for its steps: compacted kept ids, their sentences, the uniforms of
    its steps, the kept count (on the device, and on CUDA copied to pinned memory behind an
    event)."""

    def __init__(self, item: int, ids, sentences, draws, counts, ready=None, counts_host=None):
        self.item, self.ids, self.sentences, self.draws, self.counts = item, ids, sentences, draws, counts
        self.ready, self.counts_host = ready, counts_host

    def read_counts(self) -> tuple[int, int]:
        """(kept words, words) of the chunk: the one read-back per chunk."""
        if self.ready is not None:
            self.ready.synchronize()  # waits for this chunk's preparation only (a side stream)
            return tuple(int(c) for c in self.counts_host)
        return tuple(int(c) for c in self.counts)


class DeviceEngine:
    """Trains work items (chunks of the id file) in large steps on the model's device."""

    name = "device"
    #: On CUDA the whole id file is uploaded once when it takes at most this share of free memory.
    RESIDENT_SHARE = 0.25

    def __init__(self, model: Word2Vec, corpus: EncodedCorpus, keep: np.ndarray, noise: NoiseSampler, plan,
                 mode: str | None = None, device: torch.device | str = "cpu"):
        config = model.config
        self.model, self.corpus, self.config, self.plan = model, corpus, config, plan
        device = torch.device(device)
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        self.device = device
        self.vocab = vocab = len(corpus.vocab)
        self.separator = corpus.separator
        # each matrix with one zero sink row after it, on the device; on a CPU the model's arrays
        # become numpy views of the rest (whatever reads the model sees the training), elsewhere
        # :meth:`finish` copies the trained matrices back into them
        for name in ("vectors", "context"):
            storage = torch.zeros(vocab + 1, config.dim, device=device)
            storage[:vocab] = torch.from_numpy(getattr(model, name))
            if device.type == "cpu":
                setattr(model, name, storage[:vocab].numpy())
            setattr(self, name, storage)
        self.keep = torch.from_numpy(np.append(keep, 0.0).astype(np.float32)).to(device)  # the sink: never kept
        self.accept = noise.accept.to(device)
        self.alias = noise.alias.to(device)
        _epoch, _chunk, begin, end = plan.positions(0)  # the first chunk is the longest
        self.length = end - begin + 1  # a chunk's kept positions, then the slot dropped words land in
        counts = np.asarray(corpus.vocab.counts, dtype=np.float64)
        kept_share = float((counts * keep).sum() / max(counts.sum(), 1.0))
        words_per_position = corpus.num_words / max(corpus.num_positions, 1)
        self.step_size, limit = device_step(config, (end - begin) * words_per_position * kept_share)
        self.mode = mode or step_mode(config, device, plan.total_words)
        self.draw_width = 1 + 2 * config.negative
        # the buffers every step reads and writes (a captured CUDA graph needs them never to move)
        self.ids = torch.full((self.length,), vocab, dtype=torch.int64, device=device)
        self.sentences = torch.full((self.length,), -1, dtype=torch.int64, device=device)
        self.draws = torch.zeros(self.length, self.draw_width, device=device)
        self.counter = torch.zeros(2, dtype=torch.int64, device=device)  # first position of the next step, kept words
        self.rates = torch.zeros(2, device=device)  # the chunk's first and last learning rate
        self.totals = torch.zeros(2, dtype=torch.float64, device=device)  # loss, pairs
        spec = StepSpec(config.arch, self.step_size, vocab, config.window, config.negative, limit,
                        fused=self.mode == "compiled")
        self.step = DeviceStep(spec, device)
        args = (self.vectors, self.context, self.ids, self.sentences, self.draws, self.accept, self.alias,
                self.counter, self.rates, self.totals)
        self.run_step = StepRunner(self.step, args, self.mode, device)  # warm-up steps: nothing to train, rate 0
        self.info = {"step": describe(self.mode, device), "step_words": self.step_size,
                     "compile_seconds": round(self.run_step.seconds, 2) if self.mode == "compiled" else 0.0}
        self.cuda = device.type == "cuda"
        self.side = torch.cuda.Stream(device) if self.cuda else None
        self.resident = self._upload() if self.cuda else None
        self.pending: _Prepared | None = None

    def _upload(self) -> torch.Tensor | None:
        """The whole id file on the GPU when it fits comfortably (read in pieces through pinned memory)."""
        free, _total = torch.cuda.mem_get_info(self.device)
        if self.corpus.num_positions * 8 > self.RESIDENT_SHARE * free:
            return None
        resident = torch.empty(self.corpus.num_positions, dtype=torch.int64, device=self.device)
        piece = 1 << 24
        for begin in range(0, self.corpus.num_positions, piece):
            host = torch.from_numpy(self.corpus.read(begin, begin + piece).astype(np.int64)).pin_memory()
            resident[begin:begin + host.numel()].copy_(host, non_blocking=True)
            torch.cuda.current_stream(self.device).synchronize()  # the pinned piece may go
        return resident

    # ------------------------------------------------------------------ one chunk
    def prepare(self, item: int) -> _Prepared:
        """Subsample and compact a chunk and draw its uniforms (on the side stream on CUDA)."""
        epoch, chunk, begin, end = self.plan.positions(item)
        seed = chunk_seed(self.config.seed, epoch, chunk, self.plan.rank)
        raw = self.resident[begin:end] if self.resident is not None else \
            torch.from_numpy(self.corpus.read(begin, end).astype(np.int64))
        if not self.cuda:
            return self._compact(item, raw, seed)
        with torch.cuda.stream(self.side):
            if self.resident is None:
                raw = raw.pin_memory().to(self.device, non_blocking=True)
            prepared = self._compact(item, raw, seed)
            prepared.counts_host = torch.empty(2, dtype=torch.int64, pin_memory=True)
            prepared.counts_host.copy_(prepared.counts, non_blocking=True)
            prepared.ready = torch.cuda.Event()
            prepared.ready.record(self.side)
        main = torch.cuda.current_stream(self.device)
        for tensor in (prepared.ids, prepared.sentences, prepared.draws, prepared.counts):
            tensor.record_stream(main)  # read by the main stream when the chunk is loaded
        return prepared

    def _compact(self, item: int, raw: torch.Tensor, seed: int) -> _Prepared:
        ends = raw == self.separator
        sentence = torch.cumsum(ends.to(torch.int64), 0)
        ids = torch.where(ends, torch.full_like(raw, self.vocab), raw)
        generator = torch.Generator(device=self.device).manual_seed(seed % (2**63))
        kept = torch.rand(raw.shape, generator=generator, device=self.device) < self.keep.index_select(0, ids)
        slot = torch.cumsum(kept.to(torch.int64), 0) - 1
        dump = self.length - 1  # dropped words land in a last slot that is never read
        where = torch.where(kept, slot, torch.full_like(slot, dump))
        compact = torch.full((self.length,), self.vocab, dtype=torch.int64, device=self.device).scatter_(0, where, ids)
        sentences = torch.full((self.length,), -1, dtype=torch.int64, device=self.device).scatter_(0, where, sentence)
        draws = torch.rand((self.length, self.draw_width), generator=generator, device=self.device)
        counts = torch.stack([kept.sum(), raw.numel() - ends.sum()])
        return _Prepared(item, compact, sentences, draws, counts)

    def load(self, prepared: _Prepared, lr_start: float, lr_end: float) -> None:
        """Copies a prepared chunk into the step's buffers (device to device, no read-back)."""
        self.ids.copy_(prepared.ids)
        self.sentences.copy_(prepared.sentences)
        self.draws.copy_(prepared.draws)
        self.counter[0].zero_()
        self.counter[1].copy_(prepared.counts[0])
        self.rates[0].fill_(lr_start)
        self.rates[1].fill_(lr_end)
        self.totals.zero_()

    def train_item(self, item: int, lr_start: float, lr_end: float):
        """Steps over one chunk; returns (loss, pairs) as device scalars and the chunk's words."""
        prepared = self.pending if self.pending is not None and self.pending.item == item else self.prepare(item)
        kept, words = prepared.read_counts()  # the one read-back per chunk: how many steps to run
        if self.cuda:
            torch.cuda.current_stream(self.device).wait_event(prepared.ready)
        self.load(prepared, lr_start, lr_end)
        self.pending = self.prepare(item + 1) if self.cuda and item + 1 < self.plan.items else None
        for _ in range(-(-kept // self.step_size)):
            self.run_step()
        return self.totals[0].clone(), self.totals[1].to(torch.int64), words

    def torch_matrices(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The trained matrices on the device, without their sink rows (distributed synchronisation)."""
        return self.vectors[: self.vocab], self.context[: self.vocab]

    def finish(self) -> None:
        """The trained matrices into the model's arrays (on a CPU they are views already)."""
        self.pending = None
        if self.device.type != "cpu":
            for name, matrix in zip(("vectors", "context"), self.torch_matrices()):
                np.copyto(getattr(self.model, name), matrix.cpu().numpy())
