"""The wheel installs one `lookout` namespace and nothing generic beside it.

An install used to put `console`, `scheduler` and `storage` into site-packages, where an
Airflow task's `from storage import sdk` could import somebody else's `storage`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("storage", "scheduler", "console")


def _run(*cmd: str | Path, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(python, site-packages) of a fresh venv holding only the built wheel.

    Its dependencies come from the test venv through a .pth line (plain path lines do
    not run that venv's editable-install hook), so nothing is downloaded.
    """
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # a clean copy: a stale build/ in the checkout would leak in
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for room in ROOMS:
        shutil.copytree(ROOT / room, source / room, ignore=shutil.ignore_patterns("__pycache__"))
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", tmp / "dist", source)  # fmt: skip
    (wheel,) = (tmp / "dist").glob("lookout_mlops-*.whl")
    _run(sys.executable, "-m", "venv", "--without-pip", tmp / "venv")
    python = tmp / "venv" / "bin" / "python"
    site = Path(
        _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip()
    )
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
         "-q", wheel)  # fmt: skip
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python, site


def test_site_packages_gains_only_the_lookout_namespace(installed: tuple[Path, Path]) -> None:
    _, site = installed
    tops = {p.name for p in site.iterdir() if not p.name.endswith((".dist-info", ".pth"))}
    assert tops == {"lookout"}
    assert not (site / "lookout" / "__init__.py").exists()  # a namespace others may share
    assert sorted(p.name for p in (site / "lookout").iterdir()) == sorted(ROOMS)


def test_every_source_module_is_in_the_wheel(installed: tuple[Path, Path]) -> None:
    _, site = installed
    for room in ROOMS:
        source = {p.relative_to(ROOT / room) for p in (ROOT / room).rglob("*.py")}
        shipped = {p.relative_to(site / "lookout" / room) for p in (site / "lookout" / room).rglob("*.py")}  # fmt: skip
        assert source == shipped, f"pyproject's packages list misses {sorted(source - shipped)}"
    assert (site / "lookout" / "console" / "lookout.tcss").exists()


def test_installed_modules_import_outside_the_checkout(installed: tuple[Path, Path]) -> None:
    python, _ = installed
    code = (
        "import importlib, pkgutil, lookout\n"
        "names = [m.name for m in pkgutil.walk_packages(lookout.__path__, 'lookout.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "import lookout.console.cli as cli\n"
        "assert cli.__file__.startswith(lookout.__path__[0]), cli.__file__\n"
        "print(len(names))\n"
    )
    count = int(_run(python, "-c", code, cwd=Path("/")).strip())
    assert count > 50
