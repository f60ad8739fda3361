"""The work plan shared by the training loop (:mod:`textlab.w2v.train`) and the engines: the id
file is cut into chunks of :data:`CHUNK_WORDS` positions, each (epoch, chunk) pair is a work
item, and each chunk draws its random numbers from :func:`chunk_seed`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from textlab.distributed import Distributed
    from textlab.w2v.corpus import EncodedCorpus
    from textlab.w2v.model import Word2VecConfig

#: Positions of the id file per work item: the unit of progress, checkpoints and (distributed)
#: synchronisation.
CHUNK_WORDS = 1 << 17


def chunk_seed(seed: int, epoch: int, chunk: int, rank: int = 0) -> int:
    """A 64-bit seed that depends only on (seed, epoch, chunk[, rank]): a resumed or
    redistributed run draws the same numbers for the same chunk."""
    entropy = [seed, epoch, chunk] + ([rank] if rank else [])
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0])


@dataclass
class Plan:
    """The work of this process: ``chunks`` per epoch over positions ``[first, last)``."""

    chunks: int
    items: int
    total_words: int  # over all ranks and epochs: the learning-rate schedule's length
    workers: int
    first: int = 0
    last: int = 0
    rank: int = 0
    scale: int = 1  # ranks: the global word count is estimated as scale x local words done

    def positions(self, item: int) -> tuple[int, int, int, int]:
        """(epoch, chunk, begin, end) of a work item."""
        epoch, chunk = divmod(item, self.chunks)
        begin = min(self.last, self.first + chunk * CHUNK_WORDS)  # a rank with a shorter shard idles in step
        return epoch, chunk, begin, min(self.last, begin + CHUNK_WORDS)


def make_plan(corpus: EncodedCorpus, config: Word2VecConfig, workers: int, dist: Distributed | None) -> Plan:
    """The work items of this process: every chunk of the id file, or (``dist``) this rank's share."""
    positions = corpus.num_positions
    if dist is None:
        chunks = max(1, -(-positions // CHUNK_WORDS))
        return Plan(chunks, config.epochs * chunks, config.epochs * corpus.num_words, workers, 0, positions)
    # each rank takes a contiguous share; every rank runs the same number of chunks so that the
    # synchronisations pair up
    first, last = positions * dist.rank // dist.world_size, positions * (dist.rank + 1) // dist.world_size
    chunks = max(1, -(-(positions - positions * (dist.world_size - 1) // dist.world_size) // CHUNK_WORDS))
    return Plan(chunks, config.epochs * chunks, config.epochs * corpus.num_words, 1, first, last,
                rank=dist.rank, scale=dist.world_size)
