"""Runtime services shared by every trainer, one module per concern:

- :mod:`~textlab.runtime.output`: the stderr console and :func:`say`, the one helper for lines
  to the user (markup off, so paths and words pass through unchanged);
- :mod:`~textlab.runtime.device`: device choice, precision (autocast), worker and thread counts;
- :mod:`~textlab.runtime.seeding`: seeding and the RNG states a checkpoint carries;
- :mod:`~textlab.runtime.signals`: SIGINT/SIGTERM as a stop flag, and the at-fork SIGTERM reset;
- :mod:`~textlab.runtime.progress`: the progress bar;
- :mod:`~textlab.runtime.checkpoints`: checkpoint IO (safetensors + JSON, never pickle);
- :mod:`~textlab.runtime.machine`: the CPU and load a measured figure records;
- :mod:`~textlab.runtime.memory`: handing a library's resident pages back once a job is done with it.

Import from the submodule. The old flat names (``from textlab.runtime import ProgressBar``)
still work, loaded on first use, so that ``import textlab.runtime`` itself imports nothing.
"""

from __future__ import annotations

from textlab.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "output": ("console", "say"),
    "device": ("DEVICE_CHOICES", "PRECISIONS", "pick_device", "precision_candidates", "check_precision", "autocast",
               "default_workers", "torch_threads", "cuda_possible", "device_name"),
    "seeding": ("seed_everything", "rng_state", "set_rng_state"),
    "signals": ("StopRequest", "forward_if_forked", "stop_signal_handler", "graceful_stop"),
    "progress": ("ProgressBar", "progress_enabled", "human_rate"),
    "checkpoints": ("checkpoint_dir_for", "save_checkpoint", "load_checkpoint"),
    "machine": ("machine_info",),
})
