"""Benchmarks that print figures; run each from the repository root as `python -m bench.NAME`.

Every benchmark runs NumPy as the `lookout` command runs it (its sort kernels chosen by
`lookout.scheduler.cpu` before NumPy is imported), and so do the peers measured in the
same process.
"""

from lookout.scheduler.cpu import prefer_fast_sort

prefer_fast_sort()
