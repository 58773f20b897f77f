"""The core never imports Textual or Rich: storage/ and scheduler/ run headless."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _modules(package: str) -> list[str]:
    return [
        m.name
        for m in pkgutil.walk_packages([str(ROOT / package)], prefix=f"lookout.{package}.")
        if not m.name.rpartition(".")[2].startswith("_")
    ]


def test_storage_and_scheduler_import_no_ui_library() -> None:
    modules = _modules("storage") + _modules("scheduler")
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] == 'textual')\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == ""


def test_core_source_never_imports_rich() -> None:
    """httpx loads rich for its own CLI, so this rule is checked in our source."""
    pattern = re.compile(r"^\s*(from|import)\s+rich\b", re.MULTILINE)
    offenders = [
        str(p.relative_to(ROOT))
        for package in ("storage", "scheduler")
        for p in (ROOT / package).rglob("*.py")
        if pattern.search(p.read_text())
    ]
    assert offenders == []


def test_storage_imports_only_the_standard_library() -> None:
    allowed = {"lookout"} | set(sys.stdlib_module_names)
    code = (
        "import importlib, sys\n"
        "before = set(sys.modules)\n"
        f"for m in {_modules('storage')!r}:\n"
        "    importlib.import_module(m)\n"
        "print(','.join(sorted({n.split('.')[0] for n in set(sys.modules) - before})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    loaded = {n for n in out.stdout.strip().split(",") if n}
    assert loaded - allowed == set()


def test_status_command_does_not_load_textual() -> None:
    code = (
        "import sys\n"
        "from console import cli\n"
        "import lookout.console.commands.status, lookout.console.commands.events, lookout.console.commands.audit\n"
        "print('textual' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "False"


def test_the_console_app_loads_no_numerical_or_network_library() -> None:
    """app.py imports every screen, modal and action flow, all before the first frame;
    numpy alone would add 0.2 s to every start. Those load when a screen first needs them."""
    code = (
        "import sys\n"
        "import lookout.console.app\n"
        "heavy = {'numpy', 'scipy', 'sklearn', 'joblib', 'apscheduler', 'httpx', 'mlflow'}\n"
        "print(','.join(sorted(heavy & {n.split('.')[0] for n in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == ""
