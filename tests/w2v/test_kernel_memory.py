"""Loading the hogwild loop leaves LLVM out of the resident set (issue 20: training memory near
gensim's) and the loop still trains afterwards."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from textlab.runtime.memory import library_mappings, release_library_pages

PROBE = r"""
import json
import numpy as np
from textlab.w2v import kernels

def resident_mb(name):
    total, current = 0, None
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and not fields[0].endswith(":"):
                current = fields[5] if len(fields) > 5 else ""
            elif fields[0] == "Rss:" and name in current:
                total += int(fields[1])
    return total / 1024

import llvmlite.binding  # the library mapped and initialised, as numba's import does
before = resident_mb("libllvmlite")
kernels.load()
after = resident_mb("libllvmlite")
rng = np.random.default_rng(0)
vectors = (rng.random((50, 8), dtype=np.float32) - 0.5) / 8
context = np.zeros_like(vectors)
raw = rng.integers(0, 50, 4000).astype(np.uint32)
loss, pairs, kept = kernels.train_chunk(raw, 65535, vectors, context, np.ones(50, np.float32), np.ones(50, np.float32),
                                        np.arange(50, dtype=np.int64), 3, 2, 0.025, 0.0001, np.uint64(1), False,
                                        *kernels.sigmoid_tables())
print(json.dumps({"before": before, "after": after, "pairs": int(pairs), "kept": int(kept),
                  "moved": float(abs(context).sum())}))
"""


def _pageout_supported() -> bool:
    import os

    release = os.uname().release.split(".")
    return sys.platform.startswith("linux") and tuple(int(x) for x in release[:2] if x.isdigit()) >= (5, 4)


@pytest.mark.skipif(not _pageout_supported(), reason="MADV_PAGEOUT needs Linux 5.4+")
def test_loading_the_loop_gives_llvms_pages_back_and_the_loop_still_trains():
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["before"] > 20  # importing LLVM alone makes tens of MB of it resident...
    assert result["after"] < 0.25 * result["before"]  # ...and loading the loop hands them back
    assert result["kept"] == 4000 and result["pairs"] > 4000 and result["moved"] > 0


def test_release_finds_only_mapped_libraries():
    assert library_mappings("no-such-library-anywhere.so") == []
    assert release_library_pages("no-such-library-anywhere.so") == 0
