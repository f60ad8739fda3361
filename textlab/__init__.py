"""textlab: a terminal NLP toolkit in PyTorch.

The library is usable without the CLI::

    from textlab.text import tokenize_line, Vocab
    from textlab.data import resolve_corpus, iter_text_chunks
"""

__version__ = "0.1.0"
