"""What the app, its screens and the help screen share without importing one another:
where the console keeps its log and keymap, the smallest usable terminal, and the
shape of a live data source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import platformdirs
from lookout.storage.db import Store

MIN_SIZE = (60, 16)  # columns, rows; below this a screen says so instead of drawing
# A screen's live data: (change key, fetch). The poll calls the cheap key every time and
# the fetch only when the key moved; both run in a thread worker.
Source = tuple[Callable[[Store], object], Callable[[Store], Any]]


def log_path() -> Path:
    return Path(platformdirs.user_state_dir("lookout")) / "console.log"


def keymap_path() -> Path:
    return Path(platformdirs.user_config_dir("lookout")) / "keymap.toml"
