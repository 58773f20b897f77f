"""The daemon's retention job: profile what was logged without a profile, then prune.

Raw rows are only pruned once their batch has a profile (see
`lookout.storage.retention`), so batches an older Lookout or the stdlib SDK
stored without one are profiled first, a few per pass.
"""

from __future__ import annotations

import logging

from lookout.scheduler.batches import profile_backlog
from lookout.scheduler.workspace import Workspace
from lookout.storage import retention

log = logging.getLogger(__name__)
BACKLOG = 200  # batches profiled per pass at most


def run_retention(ws: Workspace) -> dict[str, int]:
    """One pass: returns the rows removed per kind (and pages handed back)."""
    profiled = profile_backlog(ws.store, BACKLOG)
    removed = retention.prune(ws.store, ws.config.retention or {})
    if profiled or any(removed.values()):
        log.info("retention: profiled %d batches; removed %s", profiled, removed)
    return {"profiled": profiled, **removed}
