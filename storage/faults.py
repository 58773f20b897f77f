"""Named crash points, for the tests that kill a promotion or a batch's logging at each step.

`point(name)` does nothing unless the process was started with
`LOOKOUT_CRASH_AT=name`; then it kills the process with SIGKILL right there,
as a power cut or the OOM killer would (no cleanup, no exception handlers,
no atexit). Setting it can only ever kill one's own process.
"""

from __future__ import annotations

import os
import signal

_AT = os.environ.get("LOOKOUT_CRASH_AT")


def point(name: str) -> None:
    if name == _AT:
        os.kill(os.getpid(), signal.SIGKILL)
