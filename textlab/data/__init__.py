"""Datasets and corpora: the registry, downloads into the cache, safe archive handling and
streaming corpus readers."""

from textlab.data.corpus import (
    iter_corpus_chunks,
    iter_corpus_lines,
    iter_corpus_pieces,
    open_text_streams,
    read_corpus_text,
    resolve_corpus,
)
from textlab.data.registry import Dataset, datasets_dir, get_dataset, registry

__all__ = [
    "Dataset", "datasets_dir", "get_dataset", "iter_corpus_chunks", "iter_corpus_lines",
    "iter_corpus_pieces", "open_text_streams", "read_corpus_text", "registry", "resolve_corpus",
]
