"""NumPy's sort kernels on Zen 4 (`lookout.scheduler.cpu`): asked for AVX2 there only, and
never over a value the user set."""

from __future__ import annotations

import os
import subprocess
import sys

from lookout.scheduler import cpu

ZEN4 = "vendor_id\t: AuthenticAMD\ncpu family\t: 25\nflags\t\t: fpu avx2 avx512f avx512bw\n\n"
ZEN3 = "vendor_id\t: AuthenticAMD\ncpu family\t: 25\nflags\t\t: fpu avx2\n\n"
ZEN5 = "vendor_id\t: AuthenticAMD\ncpu family\t: 26\nflags\t\t: fpu avx2 avx512f\n\n"
INTEL = "vendor_id\t: GenuineIntel\ncpu family\t: 6\nflags\t\t: fpu avx2 avx512f\n\n"


def test_only_zen4_has_the_slow_avx512_sort() -> None:
    assert cpu.slow_avx512_sort(ZEN4)
    assert not cpu.slow_avx512_sort(ZEN3)  # no AVX-512: NumPy picks AVX2 itself
    assert not cpu.slow_avx512_sort(ZEN5)
    assert not cpu.slow_avx512_sort(INTEL)
    assert not cpu.slow_avx512_sort("")


def test_a_value_the_user_chose_is_kept() -> None:
    env = {cpu.VARIABLE: ""}
    assert not cpu.prefer_fast_sort(env)
    assert env == {cpu.VARIABLE: ""}


def test_the_command_line_asks_before_numpy_is_imported() -> None:
    """`lookout` sets the variable on a Zen 4 before any subcommand imports NumPy, and NumPy
    then runs without its AVX-512 targets; elsewhere nothing is set."""
    env = {k: v for k, v in os.environ.items() if k != cpu.VARIABLE}
    code = (
        "import os, sys\n"
        "from lookout.console import cli\n"
        "assert 'numpy' not in sys.modules\n"
        "cli.main(['--version'])\n"
        "from numpy._core._multiarray_umath import __cpu_features__ as used\n"
        "print(os.environ.get('NPY_DISABLE_CPU_FEATURES'), used.get('X86_V4'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    with open("/proc/cpuinfo") as f:
        zen4 = cpu.slow_avx512_sort(f.read())
    variable, avx512 = out.stdout.splitlines()[-1].rsplit(" ", 1)
    assert variable == (cpu.SLOW_AVX512_SORT if zen4 else "None")
    if zen4:
        assert avx512 == "False"  # NumPy took the hint: its AVX-512 kernels are off
