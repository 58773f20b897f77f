"""Code a config names: custom stages, dataset callables, custom checks and estimators.

Nothing is ever put on `sys.path`. A name whose top-level module lies in the
workspace's `[code] path` (default `code/` beside lookout.toml) is imported from
there, as a submodule of a package private to that directory: two workspaces'
`stages.py` never meet, and a `joblib.py` or `httpx.py` there can shadow nothing
(modules in the code folder import each other relatively: `from . import helpers`).
Any other name imports as an installed module (`sklearn.svm`,
`lookout.scheduler.examples`). In a shared workspace the daemon refuses to start
while anyone but the service account or root could write the code folder
(`lookout.scheduler.strict`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType

_lock = threading.Lock()


class CodeError(Exception):
    """A `module:function` that cannot be loaded; the message is one line."""


def _package(folder: Path) -> str:
    """The private package whose submodules are the folder's modules."""
    name = "lookout_code_" + hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    with _lock:
        if name not in sys.modules:
            spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
            module = importlib.util.module_from_spec(spec)
            module.__path__ = [str(folder)]
            sys.modules[name] = module
    return name


def import_module(folder: Path, module_name: str) -> ModuleType:
    """`module_name` from the code folder when its top-level module is there, else installed."""
    top = module_name.split(".", 1)[0]
    if (folder / f"{top}.py").is_file() or (folder / top / "__init__.py").is_file():
        return importlib.import_module(f"{_package(folder.resolve())}.{module_name}")
    return importlib.import_module(module_name)


def load(folder: Path, module_name: str, attr: str, spec: str) -> object:
    """The attribute `attr` of a module; CodeError naming `spec` when either is missing."""
    try:
        module = import_module(folder, module_name)
    except Exception as exc:
        raise CodeError(f"{spec}: cannot import {module_name}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise CodeError(f"{spec}: {module_name} has no {attr}") from None
