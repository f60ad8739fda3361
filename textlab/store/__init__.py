"""The model store: where models live, how they are saved, listed, found and loaded.

A model is a directory::

    config.json          the card: kind, format version, settings, data, command line, metrics
    weights.safetensors  tensors (never pickle)
    vocab.tsv            the vocabulary, when the model has one
    checksums.json       the size and SHA-256 of every other file (written last)

Saves are atomic (a temporary directory renamed into place) and never overwrite an
existing model unless ``force`` is given. Loading checks the checksums (a model saved before
them has none) and the card before any tensor is read.

Models live in the store (``$TEXTLAB_HOME/models/NAME``) or ship inside the package
(``textlab/pretrained/KIND/NAME``, named ``shipped:NAME``). One module per concern:

- :mod:`~textlab.store.places`: the store's directory, ``-o`` paths, the models it holds;
- :mod:`~textlab.store.cards`: the card (``config.json``) and config dataclasses read from it;
- :mod:`~textlab.store.files`: saving a model directory, reading its tensors;
- :mod:`~textlab.store.shipped`: the models shipped inside the package;
- :mod:`~textlab.store.choice`: which model answers a command (:func:`choose_model`);
- :mod:`~textlab.store.catalogue`: the listing of ``textlab models``, remove and rename.

Import from the submodule. The old flat names (``from textlab.store import read_card``) still
work, loaded on first use, so that ``import textlab.store`` itself imports nothing.
"""

from __future__ import annotations

from textlab.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "places": ("textlab_home", "models_dir", "output_path", "list_models", "newest_first", "user_models"),
    "cards": ("FORMAT_VERSION", "CONFIG_FILE", "WEIGHTS_FILE", "VOCAB_FILE", "MAX_CONFIG_BYTES", "KINDS", "ModelCard",
              "command_line", "read_card", "update_card", "config_from_dict"),
    "files": ("save_model", "tensor_shapes", "load_tensors"),
    "shipped": ("SHIPPED_PREFIX", "shipped_root", "shipped_model", "shipped_models"),
    "choice": ("MAKE_COMMANDS", "LANGUAGE_NAMES", "no_model_error", "resolve_model", "ModelChoice", "explicit_choice",
               "choose_model"),
    "catalogue": ("model_catalogue", "key_metric", "store_model", "remove_model", "rename_model"),
})
