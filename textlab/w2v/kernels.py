"""The CPU engine's inner loop: one chunk of the id file trained word by word, as word2vec C
and gensim do, compiled by numba (``nogil``, so worker threads run in parallel, Hogwild).

Per chunk: frequent-word subsampling (keep probability per word), a dynamic window drawn
uniformly from 1..window per centre word, noise words drawn with Walker's alias tables
(unigram^0.75, exact), and plain SGD on the input and output matrices with a learning rate
falling linearly across the chunk. The sigmoid comes from a table over [-6, 6] (word2vec's
EXP_TABLE); beyond it the gradient saturates as in word2vec C.

- CBOW (``cbow_mean=1``): the mean of the context vectors predicts the centre word; the
  gradient is added, undivided, to every context vector.
- skip-gram: each context word's vector predicts the centre word; the centre's noise words are
  drawn once and shared by its context words (gensim draws them per pair; the README shows
  the quality this costs, which is nothing measurable).

Random numbers come from word2vec C's 48-bit linear congruential generator seeded per chunk,
so a chunk trains the same way whichever worker takes it, and a resumed run continues exactly.
Everything here reads and writes the model's numpy matrices in place (shared by the threads).
"""

from __future__ import annotations

import numba
import numpy as np

from textlab.runtime.memory import release_library_pages
from textlab.runtime.output import say


def _compiled(**options):
    """``numba.njit(nogil=True, cache=True, ...)``. The compiled code is cached beside this file,
    or (installed read-only) in textlab's cache directory; where neither can be written it is
    compiled in every process (a few seconds), and that is said once."""

    def decorate(function):
        try:
            return numba.njit(nogil=True, cache=True, **options)(function)
        except RuntimeError:  # numba found no writable place for its cache
            if not numba.config.CACHE_DIR:
                from textlab.store.places import textlab_home

                numba.config.CACHE_DIR = str(textlab_home() / "cache" / "numba")
                try:
                    return numba.njit(nogil=True, cache=True, **options)(function)
                except RuntimeError:
                    pass
            if not _compiled.warned:
                _compiled.warned = True
                say("note: no writable cache for compiled code; compiling the word2vec loop for this run only")
            return numba.njit(nogil=True, **options)(function)

    return decorate


_compiled.warned = False

EXP_TABLE_SIZE = 1000
MAX_EXP = 6.0


def sigmoid_tables() -> tuple[np.ndarray, np.ndarray]:
    """sigmoid(x) and log(sigmoid(x)) at the centres of EXP_TABLE_SIZE bins over [-MAX_EXP, MAX_EXP]."""
    x = (np.arange(EXP_TABLE_SIZE) + 0.5) / EXP_TABLE_SIZE * 2 * MAX_EXP - MAX_EXP
    sig = 1.0 / (1.0 + np.exp(-x))
    return sig.astype(np.float32), np.log(sig).astype(np.float32)


@_compiled(inline="always")
def _lcg(state):
    return state * np.uint64(25214903917) + np.uint64(11)


@_compiled(inline="always")
def _uniform(state):
    """A float in [0, 1) from 24 bits of the generator's state."""
    return ((state >> np.uint64(16)) & np.uint64(0xFFFFFF)) / 16777216.0


@_compiled(inline="always")
def _score(f, label, lr, sig_table, logsig_table):
    """(gradient coefficient, loss) of one (input, output) pair with score ``f``."""
    if f >= MAX_EXP:
        return (label - 1.0) * lr, (0.0 if label > 0 else f)
    if f <= -MAX_EXP:
        return label * lr, (-f if label > 0 else 0.0)
    slot = int((f + MAX_EXP) * (EXP_TABLE_SIZE / MAX_EXP / 2.0))
    if slot >= EXP_TABLE_SIZE:
        slot = EXP_TABLE_SIZE - 1
    if label > 0:
        return (1.0 - sig_table[slot]) * lr, -logsig_table[slot]
    # log(1 - sigmoid(f)) = log(sigmoid(-f)): the mirrored bin
    return -sig_table[slot] * lr, -logsig_table[EXP_TABLE_SIZE - 1 - slot]


@_compiled(fastmath=True)
def train_chunk(raw, separator, vectors, context, keep, accept, alias, window, negative, lr_start, lr_end, seed,
                cbow, sig_table, logsig_table):
    """Train on the ids ``raw`` (positions of the id file; ``separator`` ends a sentence).
    Returns (summed loss, pairs trained, words kept after subsampling)."""
    n_raw = raw.size
    ids = np.empty(n_raw, np.int64)
    sentence = np.empty(n_raw, np.int64)
    state = np.uint64(seed)
    current = 0
    n = 0
    for p in range(n_raw):
        word = raw[p]
        if word == separator:
            current += 1
            continue
        if keep[word] < 1.0:
            state = _lcg(state)
            if _uniform(state) >= keep[word]:
                continue
        ids[n] = word
        sentence[n] = current
        n += 1
    dim = vectors.shape[1]
    vocab = accept.size
    hidden = np.empty(dim, np.float32)
    grad = np.empty(dim, np.float32)
    targets = np.empty(negative + 1, np.int64)
    loss = 0.0
    pairs = 0
    for i in range(n):
        lr = lr_start + (lr_end - lr_start) * (i / n)
        state = _lcg(state)
        span = 1 + int((state >> np.uint64(16)) % np.uint64(window))
        low = max(0, i - span)
        high = min(n, i + span + 1)
        centre = ids[i]
        targets[0] = centre
        for k in range(1, negative + 1):
            state = _lcg(state)
            slot = int((state >> np.uint64(16)) % np.uint64(vocab))
            state = _lcg(state)
            targets[k] = slot if _uniform(state) < accept[slot] else alias[slot]
        if cbow:
            for x in range(dim):
                hidden[x] = 0.0
                grad[x] = 0.0
            count = 0
            for j in range(low, high):
                if j != i and sentence[j] == sentence[i]:
                    row = ids[j]
                    for x in range(dim):
                        hidden[x] += vectors[row, x]
                    count += 1
            if count == 0:
                continue
            scale = np.float32(1.0 / count)
            for x in range(dim):
                hidden[x] *= scale
            for k in range(negative + 1):
                target = targets[k]
                if k > 0 and target == centre:
                    continue  # word2vec skips a noise word equal to the positive one
                f = 0.0
                for x in range(dim):
                    f += hidden[x] * context[target, x]
                g, pair_loss = _score(f, 1.0 if k == 0 else 0.0, lr, sig_table, logsig_table)
                loss += pair_loss
                g32 = np.float32(g)
                for x in range(dim):
                    grad[x] += g32 * context[target, x]
                    context[target, x] += g32 * hidden[x]
            for j in range(low, high):
                if j != i and sentence[j] == sentence[i]:
                    row = ids[j]
                    for x in range(dim):
                        vectors[row, x] += grad[x]
            pairs += 1
        else:
            for j in range(low, high):
                if j == i or sentence[j] != sentence[i]:
                    continue
                row = ids[j]
                for x in range(dim):
                    grad[x] = 0.0
                for k in range(negative + 1):
                    target = targets[k]
                    if k > 0 and target == centre:
                        continue
                    f = 0.0
                    for x in range(dim):
                        f += vectors[row, x] * context[target, x]
                    g, pair_loss = _score(f, 1.0 if k == 0 else 0.0, lr, sig_table, logsig_table)
                    loss += pair_loss
                    g32 = np.float32(g)
                    for x in range(dim):
                        grad[x] += g32 * context[target, x]
                        context[target, x] += g32 * vectors[row, x]
                for x in range(dim):
                    vectors[row, x] += grad[x]
                pairs += 1
    return loss, pairs, n


#: The loop reads ids as this type (an id file of uint16 ids is widened chunk by chunk), so that
#: one compiled specialisation serves every vocabulary and can be loaded before the corpus is read.
ID_DTYPE = np.dtype(np.uint32)


def load() -> None:
    """Have numba compile (or load from its cache) :func:`train_chunk` for :data:`ID_DTYPE` ids,
    on arrays of one word, then hand LLVM's resident pages back to the kernel
    (:func:`textlab.runtime.memory.release_library_pages`): from here on the loop is machine code
    and LLVM does not run again in this job. Called before the corpus is encoded and the model's
    matrices are allocated, so that loading's memory (~50 MB) adds up with neither; calling it
    again costs a dispatch."""
    release_library_pages("libllvmlite")  # what starting LLVM touched (numba's import): not needed again
    one = np.zeros((1, 1), np.float32)
    train_chunk(np.empty(0, ID_DTYPE), 0, one, one.copy(), np.ones(1, np.float32), np.ones(1, np.float32),
                np.zeros(1, np.int64), 1, 1, 0.0, 0.0, np.uint64(0), False, *sigmoid_tables())
    release_library_pages("libllvmlite")
