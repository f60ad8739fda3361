"""The device engine: word2vec in large steps of tensor operations that stay on the device.

Per chunk of the id file (:data:`textlab.w2v.train.CHUNK_WORDS` positions), all on the device:
subsampling (one uniform draw per position against the word's keep probability), compaction
of the kept words (a prefix sum and a scatter: no data-dependent shapes), sentence numbers (a
prefix sum over the separators); then steps of ``batch_size`` centre words, each with a
dynamic window (a span drawn from 1..window), noise words from Walker's alias tables, and
one SGD update of both matrices built from gathers, batched matrix products and
``index_add_``. The only value read back per chunk is its count of kept words (the step
loop's length), and on CUDA it is prepared on a side stream while the previous chunk's steps
run, so the host never waits for the device inside a chunk; the loss stays on the device and
is read when progress is drawn.

**Summed updates.** A step hands a frequent word many updates, all computed from the same
(stale) matrices and summed; sequential SGD never overshoots because each of its small steps
sees the previous ones. Measured on the 8M-word IMDb slice (3 epochs, the evaluation of
``scripts/bench_w2v.py``): a plain sum is as good as word-by-word SGD for CBOW up to 4,096
centre words per step and diverges at 16k; skip-gram diverges already at 4k. Each row's summed
update is therefore capped: with ``C`` the row's summed curvature in this step
(``sigmoid'(score) * |other vector|^2`` over its updates, floored on the wrong side of the
decision: :func:`curvature_slope`) and ``x = lr * C``, the update is
scaled by ``min(1, row_limit / x)``, i.e. never more than ``row_limit`` Newton steps of the
row's local quadratic model. Rows touched a few times keep their plain SGD update. Larger steps
still lose quality (a table in the README); the defaults (:data:`textlab.w2v.config.DEVICE_STEPS`)
are the largest that keep gensim's quality.

Padding (context positions outside the window, the sentence or the chunk) points at a sink
row appended to both matrices, zero before every step, so that every tensor has a static shape.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from textlab.w2v.config import device_step
from textlab.w2v.corpus import EncodedCorpus
from textlab.w2v.model import Word2Vec
from textlab.w2v.sampling import NoiseSampler


def row_scale(curvature: torch.Tensor, lr: float, limit: float) -> torch.Tensor:
    """``min(1, limit / x)`` with ``x = lr * curvature``: a row's summed update is left alone
    unless it would move the row more than ``limit`` Newton steps of its local quadratic model."""
    x = curvature * lr
    return torch.where(x > limit, limit / x.clamp(min=1e-30), torch.ones_like(x))


def curvature_slope(fit: torch.Tensor) -> torch.Tensor:
    """The curvature each update adds to its row (times ``|other vector|^2``): ``sigmoid'(s) =
    fit * (1 - fit)``, but never below ``(1 - fit) / 2``. On the wrong side of the decision
    (``fit < 1/2``) sigmoid' vanishes as the score saturates while the gradient does not, so the
    Gauss-Newton curvature alone lets a crowded row of saturated updates take a huge step
    (skip-gram diverged on a Zipf(1.25) corpus, mean loss 40); the floor keeps such rows' curvature
    at 1/4..1/2, the logistic loss's scale, and leaves the right side unchanged."""
    return torch.maximum(fit * (1.0 - fit), 0.5 * (1.0 - fit))


class StepMath:
    """One SGD step of ``m`` centre words on matrices with a trailing sink row.

    ``contexts`` [m, 2*window] row ids (the sink for padding), ``targets`` [m, 1+K] (the
    centre word first, then its noise words), ``weight`` [m, 1+K] (0 where a noise word equals
    the centre or, for CBOW, the centre has no context). Returns the summed loss (a 0-d tensor
    on the device)."""

    def __init__(self, arch: str, vocab_size: int, dim: int, device: torch.device, limit: float | None = None):
        self.cbow = arch == "cbow"
        self.sink = vocab_size
        self.limit = limit
        self.scaling = limit is not None
        self.curv_in = torch.zeros(vocab_size + 1, device=device)
        self.curv_out = torch.zeros(vocab_size + 1, device=device)

    def __call__(self, vectors: torch.Tensor, context: torch.Tensor, contexts: torch.Tensor, targets: torch.Tensor,
                 weight: torch.Tensor, lr: float) -> torch.Tensor:
        m, width = contexts.shape
        valid = (contexts != self.sink).to(vectors.dtype)  # [m, 2W]
        outputs = context.index_select(0, targets.reshape(-1)).view(m, targets.shape[1], -1)  # [m, 1+K, d]
        sign = torch.full_like(weight, -1.0)
        sign[:, 0] = 1.0
        if self.cbow:  # the mean of the context vectors predicts the centre word (cbow_mean=1)
            count = valid.sum(1).clamp(min=1.0)
            hidden = F.embedding_bag(contexts, vectors, mode="sum") / count[:, None]  # sink rows are 0
            scores = torch.bmm(outputs, hidden[:, :, None])[:, :, 0]  # [m, 1+K]
            fit = torch.sigmoid(scores * sign)  # sigmoid(s) for the centre, sigmoid(-s) for noise
            loss = -(torch.log(fit.clamp(min=1e-7)) * weight).sum()
            coef = (1.0 - fit) * sign * weight  # label - sigmoid(s)
            slot_scale, coef_out = valid, coef
            if self.scaling:
                slope = curvature_slope(fit) * weight
                self._accumulate(self.curv_out, targets, slope * (hidden * hidden).sum(1, keepdim=True))
                per_input = (slope * (outputs * outputs).sum(2)).sum(1) / count
                self._accumulate(self.curv_in, contexts, per_input[:, None] * valid)
                slot_scale = valid * self._scales(self.curv_in, contexts, lr)
                coef_out = coef * self._scales(self.curv_out, targets, lr)
            grad_hidden = torch.bmm(coef[:, None, :], outputs)  # [m, 1, d], added undivided to each context
            grad_inputs = grad_hidden * slot_scale[:, :, None]  # [m, 2W, d]
            grad_outputs = coef_out[:, :, None] * hidden[:, None, :]  # [m, 1+K, d]
        else:  # each context word's vector predicts the centre word (with the centre's noise words)
            inputs = vectors.index_select(0, contexts.reshape(-1)).view(m, width, -1)  # [m, 2W, d]
            scores = torch.bmm(inputs, outputs.transpose(1, 2))  # [m, 2W, 1+K]
            pair_weight = valid[:, :, None] * weight[:, None, :]
            fit = torch.sigmoid(scores * sign[:, None, :])
            loss = -(torch.log(fit.clamp(min=1e-7)) * pair_weight).sum()
            coef = (1.0 - fit) * sign[:, None, :] * pair_weight  # [m, 2W, 1+K]
            coef_in = coef_out = coef
            if self.scaling:
                slope = curvature_slope(fit) * pair_weight
                self._accumulate(self.curv_in, contexts, (slope * (outputs * outputs).sum(2)[:, None, :]).sum(2))
                self._accumulate(self.curv_out, targets, (slope * (inputs * inputs).sum(2)[:, :, None]).sum(1))
                coef_in = coef * self._scales(self.curv_in, contexts, lr)[:, :, None]  # folded in before the products
                coef_out = coef * self._scales(self.curv_out, targets, lr)[:, None, :]
            grad_inputs = torch.bmm(coef_in, outputs)  # [m, 2W, d]
            grad_outputs = torch.bmm(coef_out.transpose(1, 2), inputs)  # [m, 1+K, d]
        if self.scaling:
            self.curv_in.zero_()
            self.curv_out.zero_()
        vectors.index_add_(0, contexts.reshape(-1), grad_inputs.reshape(m * width, -1), alpha=lr)
        context.index_add_(0, targets.reshape(-1), grad_outputs.reshape(-1, grad_outputs.shape[-1]), alpha=lr)
        vectors[self.sink].zero_()
        context[self.sink].zero_()
        return loss

    def _scales(self, curvature: torch.Tensor, rows: torch.Tensor, lr: float) -> torch.Tensor:
        """Each row's cap factor (see :func:`row_scale`), gathered at ``rows``."""
        return row_scale(curvature, lr, self.limit).index_select(0, rows.reshape(-1)).view(rows.shape)

    @staticmethod
    def _accumulate(total: torch.Tensor, rows: torch.Tensor, values: torch.Tensor) -> None:
        total.index_add_(0, rows.reshape(-1), values.reshape(-1))


class _Prepared:
    """A chunk made ready for its steps: compacted kept ids, their sentences, the kept count
    (on the device, and on CUDA copied to pinned memory behind an event) and its generator."""

    def __init__(self, item: int, ids, sentences, counts, generator, ready=None, counts_host=None):
        self.item, self.ids, self.sentences, self.counts, self.generator = item, ids, sentences, counts, generator
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

    def __init__(self, model: Word2Vec, corpus: EncodedCorpus, keep: np.ndarray, noise: NoiseSampler, plan):
        config = model.config
        self.model, self.corpus, self.config, self.plan = model, corpus, config, plan
        self.device = device = model.vectors.device
        self.vocab = vocab = len(corpus.vocab)
        self.separator = corpus.separator
        # one zero sink row after each matrix; the model's parameters become views of the rest,
        # so whatever reads the model (checkpoints, distributed synchronisation) sees the training
        for name in ("vectors", "context"):
            storage = torch.zeros(vocab + 1, config.dim, device=device)
            storage[:vocab] = getattr(model, name).data
            getattr(model, name).data = storage[:vocab]
            setattr(self, name, storage)
        self.keep = torch.from_numpy(np.append(keep, 0.0).astype(np.float32)).to(device)  # the sink: never kept
        self.accept = noise.accept.to(device)
        self.alias = noise.alias.to(device)
        self.step_size, limit = device_step(config)
        self.step = StepMath(config.arch, vocab, config.dim, device, limit=limit)
        offsets = [o for o in range(-config.window, config.window + 1) if o != 0]
        self.offsets = torch.tensor(offsets, device=device)
        self.reach = torch.tensor([abs(o) for o in offsets], device=device)
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
        """Subsample and compact a chunk (on the side stream on CUDA)."""
        epoch, chunk, begin, end = self.plan.positions(item)
        from textlab.w2v.plan import chunk_seed

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
        for tensor in (prepared.ids, prepared.sentences):
            tensor.record_stream(main)  # used by the steps on the main stream
        return prepared

    def _compact(self, item: int, raw: torch.Tensor, seed: int) -> _Prepared:
        ends = raw == self.separator
        sentence = torch.cumsum(ends.to(torch.int64), 0)
        ids = torch.where(ends, torch.full_like(raw, self.vocab), raw)
        generator = torch.Generator(device=self.device).manual_seed(seed % (2**63))
        kept = torch.rand(raw.shape, generator=generator, device=self.device) < self.keep.index_select(0, ids)
        slot = torch.cumsum(kept.to(torch.int64), 0) - 1
        dump = raw.numel()  # dropped words land in a last slot that is never read
        where = torch.where(kept, slot, torch.full_like(slot, dump))
        compact = torch.full((dump + 1,), self.vocab, dtype=torch.int64, device=self.device).scatter_(0, where, ids)
        sentences = torch.full((dump + 1,), -1, dtype=torch.int64, device=self.device).scatter_(0, where, sentence)
        counts = torch.stack([kept.sum(), raw.numel() - ends.sum()])
        return _Prepared(item, compact, sentences, counts, generator)

    def train_item(self, item: int, lr_start: float, lr_end: float):
        """Steps over one chunk; returns (loss, pairs) as device scalars and the chunk's words."""
        prepared = self.pending if self.pending is not None and self.pending.item == item else self.prepare(item)
        kept, words = prepared.read_counts()  # the one read-back per chunk: how many steps to run
        if self.cuda:
            torch.cuda.current_stream(self.device).wait_event(prepared.ready)
        self.pending = self.prepare(item + 1) if self.cuda and item + 1 < self.plan.items else None
        loss = torch.zeros((), dtype=torch.float64, device=self.device)
        pairs = torch.zeros((), dtype=torch.int64, device=self.device)
        size = self.step_size
        for start in range(0, kept, size):
            stop = min(kept, start + size)
            lr = lr_start + (lr_end - lr_start) * start / kept
            contexts, targets, weight = self.batch(prepared, start, stop, kept)
            loss += self.step(self.vectors, self.context, contexts, targets, weight, lr)
            pairs += (weight[:, 0] > 0).sum() if self.config.arch == "cbow" else (contexts != self.vocab).sum()
        return loss, pairs, words

    def batch(self, prepared: _Prepared, start: int, stop: int, kept: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Contexts (the sink where padded), targets and weights of centre words ``start..stop``."""
        device, config, generator = self.device, self.config, prepared.generator
        ids, sentences = prepared.ids, prepared.sentences
        m = stop - start
        centres = ids[start:stop]
        spans = torch.randint(1, config.window + 1, (m,), generator=generator, device=device)
        where = torch.arange(start, stop, device=device)[:, None] + self.offsets[None, :]
        inside = (where >= 0) & (where < kept) & (self.reach[None, :] <= spans[:, None])
        where = where.clamp(0, max(kept - 1, 0))
        inside &= sentences.index_select(0, where.reshape(-1)).view(m, -1) == sentences[start:stop, None]
        contexts = torch.where(inside, ids.index_select(0, where.reshape(-1)).view(m, -1),
                               torch.full_like(where, self.vocab))
        slots = torch.randint(0, self.vocab, (m, config.negative), generator=generator, device=device)
        coins = torch.rand((m, config.negative), generator=generator, device=device)
        noise = torch.where(coins < self.accept[slots], slots, self.alias[slots])
        targets = torch.cat([centres[:, None], noise], 1)
        weight = torch.ones(targets.shape, device=device)
        weight[:, 1:] = (noise != centres[:, None]).to(weight.dtype)
        if config.arch == "cbow":
            weight *= inside.any(1, keepdim=True).to(weight.dtype)
        return contexts, targets, weight

    def finish(self) -> None:
        """The model's parameters are views of the trained matrices already; nothing to copy."""
        self.pending = None
