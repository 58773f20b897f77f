"""NumPy's sort on AMD Zen 4: keep it off the AVX-512 kernels that are slow there.

NumPy sorts float64 with x86-simd-sort's AVX-512 kernels wherever the CPU has
AVX-512. Zen 4 (AMD family 25 with AVX-512) runs the compress-store
instruction those kernels use on every vector in microcode: a 1M-value sort
takes ~65 ms there against ~10 ms on the same CPU's AVX2 kernels (measured on
this project's machines; NumPy's own discussion of it: numpy/numpy#32690).
Sorting is most of profiling a logged batch and of the unique check, so
`lookout` asks NumPy for its AVX2 kernels on Zen 4. Zen 5 (family 26) fixed
the instruction and is left alone.

NumPy reads ``NPY_DISABLE_CPU_FEATURES`` once, when it is first imported, so
`prefer_fast_sort` runs before anything imports NumPy (the command line's
first step) and only sets the variable when the user has not: a value they
chose, even an empty one, is theirs. Child processes inherit it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from pathlib import Path

VARIABLE = "NPY_DISABLE_CPU_FEATURES"
SLOW_AVX512_SORT = "X86_V4 AVX512_ICL"  # NumPy's names for its AVX-512 targets


def slow_avx512_sort(cpuinfo: str) -> bool:
    """Whether /proc/cpuinfo's text describes a Zen 4: AMD, family 25, AVX-512."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            break  # the first processor is enough
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return (
        fields.get("vendor_id") == "AuthenticAMD"
        and fields.get("cpu family") == "25"
        and "avx512f" in fields.get("flags", "").split()
    )


def prefer_fast_sort(environ: MutableMapping[str, str] | None = None) -> bool:
    """Ask NumPy for its AVX2 sort on Zen 4, in this process (NumPy not yet imported) or in
    the `environ` given to a child's; whether it was asked."""
    if environ is None:
        if "numpy" in sys.modules:
            return False
        environ = os.environ
    if VARIABLE in environ:
        return False
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    if not slow_avx512_sort(cpuinfo):
        return False
    environ[VARIABLE] = SLOW_AVX512_SORT
    return True
