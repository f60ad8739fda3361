"""Counting host reads of device data in a step loop, on a machine without a GPU.

A CUDA step loop must not read device tensors on the host (``.item()``, ``bool()``,
``float()``, ``.tolist()``, ``.numpy()``, ``.cpu()``, or ops whose output size depends on the
data: ``nonzero``, ``unique``, ``masked_select``): each read waits for the GPU. On a CPU run
every tensor is a CPU tensor, so this counts reads of every tensor except those that stay on
the host by design in a CUDA run too: the batch lengths and ``PackedSequence.batch_sizes``
(packing wants them on the CPU) and the optimizer's step counters (CPU tensors unless the
optimizer is fused, as it is on CUDA). A ``TorchDispatchMode`` sees the ops; ``.tolist()``,
``.numpy()`` and ``.cpu()`` of a CPU tensor never reach the dispatcher, so they are patched.
"""

from __future__ import annotations

import contextlib
import functools
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten
DATA_DEPENDENT = {aten._local_scalar_dense.default, aten.nonzero.default, aten._unique2.default,
                  aten.unique_dim.default, aten.unique_consecutive.default, aten.masked_select.default,
                  aten.equal.default, aten.is_nonzero.default}


class HostReads:
    def __init__(self):
        self.active = 0
        self.host: dict[int, weakref.ref] = {}  # tensors on the host by design (lengths, batch_sizes)
        self.optimizers: list = []
        self.reads: list[str] = []

    def host_side(self, tensor) -> bool:
        steps = [state.get("step") for opt in self.optimizers for state in opt.state.values()]
        for t in (tensor, getattr(tensor, "_base", None)):
            ref = self.host.get(id(t))  # compared by identity: a freed tensor's id may be reused
            if t is not None and ((ref is not None and ref() is t) or any(s is t for s in steps)):
                return True
        return False

    def mark_host(self, *tensors) -> None:
        for t in tensors:
            self.host[id(t)] = weakref.ref(t)

    def note(self, what: str, tensor) -> None:
        if self.active and isinstance(tensor, torch.Tensor) and not self.host_side(tensor):
            self.reads.append(what)


class _Mode(TorchDispatchMode):
    def __init__(self, counter: HostReads):
        super().__init__()
        self.counter = counter

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in DATA_DEPENDENT and args:
            self.counter.note(str(func), args[0])
        return func(*args, **(kwargs or {}))


@contextlib.contextmanager
def count_host_reads(monkeypatch, loops: list[tuple[object, str]]):
    """Count inside every call of the functions ``getattr(module, name)`` in ``loops`` (their
    ``optimizer`` argument, found by name, has its step counters treated as host-side)."""
    import inspect

    import textlab.sentiment.model as model_module

    counter = HostReads()
    real_pack = model_module.pack_padded_sequence

    def pack(input, lengths, *args, **kwargs):
        packed = real_pack(input, lengths, *args, **kwargs)
        counter.mark_host(lengths, packed.batch_sizes)
        return packed

    monkeypatch.setattr(model_module, "pack_padded_sequence", pack)
    for module, name in loops:
        real = getattr(module, name)
        position = list(inspect.signature(real).parameters).index("optimizer")

        def counted(*args, _real=real, _position=position, **kwargs):
            optimizer = kwargs.get("optimizer", args[_position] if len(args) > _position else None)
            counter.optimizers.append(optimizer)
            counter.active += 1
            try:
                with _Mode(counter):
                    return _real(*args, **kwargs)
            finally:
                counter.active -= 1

        monkeypatch.setattr(module, name, functools.wraps(real)(counted))
    for method in ("tolist", "numpy", "cpu"):
        real_method = getattr(torch.Tensor, method)

        def patched(self, *args, _real=real_method, _name=method, **kwargs):
            counter.note(f"Tensor.{_name}", self)
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, method, patched)
    yield counter
