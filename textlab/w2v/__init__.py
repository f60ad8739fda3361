"""word2vec: skip-gram and CBOW with negative sampling, trained with hand-written SGD steps
(numba on the CPU, PyTorch on any device); queries, evaluation and the word2vec interchange
formats.

Modules: ``corpus`` (corpus → int32 ids), ``sampling`` (subsampling, noise words), ``model``
(the two numpy matrices), ``train`` (the loop, Hogwild workers, checkpoints), ``kernels`` (the
CPU loop), ``engine`` and ``step`` (the device engine), ``pipeline`` (train-w2v as a call),
``saving`` (the store format), ``keyed_vectors`` (queries;
:func:`~textlab.w2v.keyed_vectors.load_keyed_vectors`), ``evaluate``, ``formats``,
``importing``, ``plot``.
"""
