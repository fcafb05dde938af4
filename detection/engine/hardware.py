"""What the engine runs on: the CPU model, the instruction-set flags that decide which kernels its
runtimes pick, and the usable core count. Model cards and benchmark reports name it beside figures."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

#: CPU flags that decide which kernels onnxruntime, OpenVINO and LiteRT use.
FLAGS_OF_INTEREST = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "neon")


def cpu_info() -> dict[str, Any]:
    """{"model": str, "flags": [flags of interest], "cores": usable cores}."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                model = value.strip()
            elif key.strip() in ("flags", "Features"):
                flags.update(value.split())
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"model": model, "flags": [f for f in FLAGS_OF_INTEREST if f in flags], "cores": cores}


def describe_cpu() -> str:
    """One line: "<model>, <n> cores (<flags>)"."""
    cpu = cpu_info()
    flags = f" ({', '.join(cpu['flags'])})" if cpu["flags"] else ""
    return f"{cpu['model']}, {cpu['cores']} cores{flags}"
