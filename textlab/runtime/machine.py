"""The machine a figure was measured on."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def machine_info() -> dict:
    """The CPU this runs on (model name, core count, the flags that decide the arithmetic) and
    the load average: what every measured figure records beside itself."""
    info: dict[str, Any] = {"cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()]}
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
        flags = set(next(line.split(":", 1)[1].split() for line in lines if line.startswith("flags")))
        info["flags"] = sorted(flags & {"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile"})
    except (OSError, StopIteration):
        pass
    return info
