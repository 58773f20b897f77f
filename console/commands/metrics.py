"""`lookout metrics`: the Prometheus exposition text, once (for node_exporter's textfile
collector, or to see what the daemon's `[metrics] listen` serves)."""

from __future__ import annotations

import argparse
import sys

from lookout.console.output import workspace
from lookout.scheduler import metrics


def run(args: argparse.Namespace) -> int:
    ws = workspace(args, readonly=True)
    sys.stdout.write(metrics.render(ws).decode())
    return 0
