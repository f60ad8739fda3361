"""Handing a shared library's resident pages back to the kernel once a job no longer runs it.

The hogwild word2vec engine needs LLVM (numba's ``libllvmlite.so``, 170 MB on disk) only to load
or compile its loop; once the loop is machine code in the process, training never runs LLVM
again, yet the library's pages that loading touched (60-70 MB) stay in the process's resident
set for the whole job. :func:`release_library_pages` asks the kernel to reclaim them
(``madvise(MADV_PAGEOUT)``, Linux 5.4+): a hint that never changes what memory holds (a clean
page of the file is dropped and read again from the page cache if it is ever used; a page the
process wrote to, such as relocated data, stays where no swap takes it), so it is safe on any
mapping. Elsewhere (no ``/proc``, an older kernel, no libc) it does nothing.

:func:`trim_heap` hands the C heap's free memory back (glibc's ``malloc_trim``) once a job has let
go of large arrays, so that what it allocates next starts from there.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

MADV_PAGEOUT = 21  # linux/mman.h


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:
        return None


def _madvise():
    libc = _libc()
    madvise = getattr(libc, "madvise", None)
    if madvise is None:
        return None
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    return madvise


def library_mappings(name: str) -> list[tuple[int, int]]:
    """The address ranges (start, end) of this process's mappings of files whose name contains
    ``name`` (``/proc/self/maps``); empty where there is no such file or no ``/proc``."""
    ranges = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split(maxsplit=5)
                if len(fields) == 6 and name in fields[5].rsplit("/", 1)[-1]:
                    start, end = (int(address, 16) for address in fields[0].split("-"))
                    ranges.append((start, end))
    except OSError:
        return []
    return ranges


def release_library_pages(name: str) -> int:
    """Ask the kernel to page out this process's pages of the libraries named like ``name``;
    returns how many mappings it accepted the hint for (0 where it cannot be given)."""
    madvise = _madvise()
    if madvise is None:
        return 0
    return sum(madvise(start, end - start, MADV_PAGEOUT) == 0 for start, end in library_mappings(name))


def trim_heap() -> bool:
    """Return the C heap's free pages to the kernel (glibc); False where there is no such call."""
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is None:
        return False
    trim.argtypes = [ctypes.c_size_t]
    return bool(trim(0))
