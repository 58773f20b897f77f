"""`lookout models [MODEL] [--json]`: versions, aliases and metrics as users read them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lookout.scheduler import promotion
from lookout.scheduler.workspace import Workspace

from tests.test_promotion import add_version, promote_new, toml

CONFIG_ONLY = '[models.other]\ntask = "regression"\ntarget = "y"\n'


def test_models_json_lists_versions_newest_first(
    make_workspace: Callable[..., Workspace], cli: Any
) -> None:
    ws = make_workspace(toml() + CONFIG_ONLY)
    v1 = promote_new(ws, metrics={"f1": 0.8})
    v2 = add_version(ws, metrics={"f1": 0.9})
    promotion.on_version_registered(ws, "m", v2.version, "pipeline:train", request=False)
    r = cli("models", "--json", "--workspace", str(ws.root))
    assert r.code == 0, r.err
    models = {m["name"]: m for m in r.json()["models"]}
    assert set(models) == {"m", "other"}
    m = models["m"]
    assert m["source"] == "local"
    assert [v["version"] for v in m["versions"]] == [2, 1]
    newest, oldest = m["versions"]
    assert set(newest) >= {"version", "aliases", "metrics", "created_at", "artifact_sha256"}
    assert newest["aliases"] == ["candidate"] and oldest["aliases"] == ["production"]
    assert newest["metrics"] == {"f1": 0.9}
    assert oldest["artifact_sha256"] == v1.artifact_sha256
    assert newest["created_at"].endswith("Z")
    # A model named in the config but never trained is listed with no versions.
    assert models["other"]["versions"] == [] and models["other"]["source"] == "local"


def test_models_one_model_as_text(make_workspace: Callable[..., Workspace], cli: Any) -> None:
    ws = make_workspace(toml())
    promote_new(ws, metrics={"f1": 0.8123, "accuracy": 0.9})
    r = cli("models", "m", "--workspace", str(ws.root))
    assert r.code == 0
    assert "m (local, classification, primary metric f1): candidate=v1, production=v1" in r.out
    assert "f1=0.8123 accuracy=0.9" in r.out


def test_models_unknown_model_is_bad_input(
    make_workspace: Callable[..., Workspace], cli: Any
) -> None:
    ws = make_workspace(toml())
    r = cli("models", "nope", "--json", "--workspace", str(ws.root))
    assert r.code == 2 and r.err == "lookout: models: no model named 'nope'\n"
    assert r.json()["ok"] is False and r.json()["error"] == "models: no model named 'nope'"


def test_models_untrusted_names_are_sanitized(
    make_workspace: Callable[..., Workspace], cli: Any
) -> None:
    ws = make_workspace(toml())
    add_version(ws, metrics={"f1\x1b]0;pwned\x07": 1.0})
    r = cli("models", "m", "--workspace", str(ws.root))
    assert r.code == 0 and "\x1b" not in r.out and "\x07" not in r.out
