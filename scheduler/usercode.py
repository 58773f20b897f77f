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

import ast
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


def missing(folder: Path, module_name: str, attr: str) -> str | None:
    """Why `module_name.attr` could not load, found without importing anything (None: it
    looks loadable). Reading a config uses this: it must not run the workspace's code, nor
    import scikit-learn for a path like `sklearn.ensemble.RandomForestClassifier`.

    The module's file is found the way the import system would find it (the code folder
    first, as `import_module` does), and when it is Python source its top level is read
    for the name: a def, a class, an assignment or an import. A compiled module, or one
    that makes names up (`__getattr__`, `import *`), is taken at its word.
    """
    top, *rest = module_name.split(".")
    try:
        if _in_folder(folder, top):
            spec = importlib.machinery.PathFinder.find_spec(top, [str(folder)])
        else:
            spec = importlib.util.find_spec(top)  # a top-level name: nothing is imported
        for part in rest:  # a submodule, looked for where its parent package lives
            name = f"{top}.{part}"
            if name in sys.modules:  # os.path
                spec = sys.modules[name].__spec__
            elif spec is None or spec.submodule_search_locations is None:
                spec = None
            else:
                spec = _find_submodule(name, list(spec.submodule_search_locations))
            top = name
    except PermissionError:
        return None  # a code folder this account may not read: the runner will tell
    except (ImportError, ValueError, OSError):
        spec = None
    if spec is None:
        return f'no module named "{module_name}"'
    origin = spec.origin
    if not origin or not origin.endswith(".py"):
        return None
    try:
        tree = ast.parse(Path(origin).read_bytes())
    except PermissionError:
        return None
    except (OSError, SyntaxError, ValueError) as exc:
        return f"cannot read {module_name}: {type(exc).__name__}"
    return None if attr in _top_level_names(tree) else f'{module_name} has no "{attr}"'


def split(path: str) -> tuple[str, str] | None:
    """`package.module.Name` or `module:name` as (module, name); None if it is neither."""
    module_name, _, attr = path.partition(":") if ":" in path else path.rpartition(".")
    names = [*module_name.split("."), attr]
    return (module_name, attr) if all(n.isidentifier() for n in names) else None


def _find_submodule(name: str, locations: list[str]) -> importlib.machinery.ModuleSpec | None:
    """What `import name` would find, its parent package not imported: the import
    system's finders asked in turn (an editable install brings its own)."""
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        spec = find(name, locations) if find is not None else None
        if spec is not None:
            return spec
    return None


def _in_folder(folder: Path, top: str) -> bool:
    return (folder / f"{top}.py").is_file() or (folder / top / "__init__.py").is_file()


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            if node.name == "__getattr__":
                return _Anything()
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    return _Anything()
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.If | ast.Try):  # names defined under a condition count
            inner = _top_level_names(ast.Module(body=_branches(node), type_ignores=[]))
            if isinstance(inner, _Anything):
                return inner
            names.update(inner)
    return names


def _branches(node: ast.If | ast.Try) -> list[ast.stmt]:
    if isinstance(node, ast.If):
        return [*node.body, *node.orelse]
    return [
        *node.body,
        *(s for h in node.handlers for s in h.body),
        *node.orelse,
        *node.finalbody,
    ]


class _Anything(set[str]):
    """A module that may define any name."""

    def __contains__(self, name: object) -> bool:
        return True


def digest(folder: Path) -> str:
    """The sha256 of a code folder's files (names and contents; caches left out), so a run
    can tell whether the code it would call changed; "" when there is no folder."""
    h = hashlib.sha256()
    try:
        files = sorted(
            p
            for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.relative_to(folder).parts
        )
        for p in files:
            h.update(str(p.relative_to(folder)).encode("utf-8", "surrogateescape") + b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
    except OSError:
        return ""
    return h.hexdigest() if files else ""
