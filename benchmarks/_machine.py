"""One line naming the machine a benchmark ran on: CPU model, cores, AVX512 or not, load."""

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def has_avx512() -> bool:
    try:
        return "avx512f" in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False


def machine_line() -> str:
    """e.g. 'CPU: AMD EPYC, 2 cores, AVX512 no; load average 1.05 0.98 0.51'."""
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return (f"CPU: {cpu_model()}, {os.cpu_count()} cores, AVX512 {'yes' if has_avx512() else 'no'}; "
            f"load average {load}")
