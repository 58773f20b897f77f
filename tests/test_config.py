"""lookout.toml validation: every mistake is one line naming the file, the key and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest
from lookout.console.commands.init import EXAMPLE, PERSONAL, SHARED
from lookout.scheduler.config import ConfigError, load, parse

PATH = Path("/ws/lookout.toml")

DATASET = """
[datasets.d]
source = "data/*.csv"
"""
MODEL = """
[models.m]
task = "classification"
target = "y"
"""

BAD = [
    (
        "[workspace\n",
        "not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 11)",
    ),
    (
        "colour = 1",
        "colour: unknown key (known keys: airflow, audit, code, datasets, metrics, mlflow, models, notifications, pipelines, policy, retention, scheduler, workspace)",
    ),
    (
        "[workspace]\nnmae = 'x'",
        "workspace.nmae: unknown key (known keys: artifacts, database, group, mode, name, refresh, service_user)",
    ),
    (
        "[workspace]\nrefresh = 'soon'",
        'workspace.refresh: expected a duration like "30s", "10m" or "2h", got "soon"',
    ),
    (
        "[workspace]\nrefresh = -1",
        'workspace.refresh: expected a duration like "30s", "10m" or "2h", got -1',
    ),
    ("[policy]\nfour_eyes = 'yes'", 'policy.four_eyes: expected true or false, got "yes"'),
    (
        "[notifications.pd]\nformat = 'pagerduty'",
        "notifications.pd.routing_key_env: missing required key",
    ),
    (
        "[notifications.am]\nformat = 'alertmanager'",
        "notifications.am.url: missing required key",
    ),
    (
        "[notifications.x]\nformat = 'teams'\nurl = 'http://x'",
        'notifications.x.format: expected one of "json", "slack", "pagerduty", "alertmanager",'
        ' got "teams"',
    ),
    (
        "[notifications.x]\nurl = 'http://x'\nresend = '1m'",
        "notifications.x.resend: unknown key (known keys: dedup, events, format, group_wait,"
        " min_severity, retries, secret_env, timeout, url)",
    ),
    (
        "[notifications.x]\nurl = 'http://x'\nmin_severity = 'critical'",
        'notifications.x.min_severity: expected one of "info", "warn", "error", got "critical"',
    ),
    ("[metrics]\nlisten = 9464", "metrics.listen: expected a string, got 9464"),
    (
        "[metrics]\nlisten = 'localhost'",
        'metrics.listen: expected HOST:PORT like "127.0.0.1:9464", got "localhost"',
    ),
    (
        "[policy]\napprovals_required = 0",
        "policy.approvals_required: expected an integer ≥ 1 and ≤ 10, got 0",
    ),
    (
        "[policy]\nmetric_tolerance = nan",
        "policy.metric_tolerance: expected a finite number ≥ 0, got nan",
    ),
    ("[policy.roles]\noperator = 'alice'", 'policy.roles.operator: expected an array, got "alice"'),
    ("[datasets.d]\nformat = 'csv'", "datasets.d.source: missing required key"),
    (
        "[datasets.'bad name']\nsource = 'x.csv'",
        'datasets.bad name: expected a name of letters, digits, "_", "-" or ".", got "bad name"',
    ),
    (
        DATASET + "[[datasets.d.checks]]\nname = 'r'\ntype = 'range'\ncolumn = 'x'",
        'datasets.d.checks[0](r): a range check needs "min", "max" or both',
    ),
    (
        DATASET + "[[datasets.d.checks]]\nname = 'r'\ntype = 'ranges'",
        'datasets.d.checks[0](r).type: expected one of schema, not_null, range, allowed_values, unique, row_count, freshness, mean, std, drift, custom, got "ranges"',
    ),
    (
        DATASET
        + "[[datasets.d.checks]]\nname = 'r'\ntype = 'range'\ncolumn = 'x'\nmin = 5\nmax = 1",
        "datasets.d.checks[0](r): min (5) is greater than max (1)",
    ),
    (
        DATASET + "[[datasets.d.checks]]\nname = 'r'\ntype = 'range'\ncolumn = 'x'\nmin = 'low'",
        'datasets.d.checks[0](r).min: expected a number, got "low"',
    ),
    (
        DATASET + "[[datasets.d.checks]]\nname = 'n'\ntype = 'not_null'",
        'datasets.d.checks[0](n): a not_null check needs "column" or "columns"',
    ),
    (
        DATASET + "[[datasets.d.checks]]\nname = 's'\ntype = 'schema'\ncolumns = {x = 'float'}",
        'datasets.d.checks[0](s).columns.x: expected one of "number", "integer", "string", "datetime", "bool", got "float"',
    ),
    (
        DATASET + "[[datasets.d.checks]]\nname = 'c'\ntype = 'custom'\ncall = 'nomodule'",
        'datasets.d.checks[0](c).call: expected "module:function", got "nomodule"',
    ),
    (
        DATASET
        + "[[datasets.d.checks]]\nname = 'a'\ntype = 'row_count'\nmin = 1\n[[datasets.d.checks]]\nname = 'a'\ntype = 'row_count'\nmin = 2",
        'datasets.d.checks[1]: duplicate check name "a"',
    ),
    (
        DATASET
        + "[[datasets.d.checks]]\nname = 'f'\ntype = 'freshness'\nseverity = 'page'\nmax_age = '1h'",
        'datasets.d.checks[0](f).severity: expected one of "warn", "fail", got "page"',
    ),
    (
        "[models.m]\ntask = 'clustering'",
        'models.m.task: expected one of "classification", "regression", got "clustering"',
    ),
    ("[models.m]\ntask = 'regression'", "models.m.target: missing required key (local model)"),
    (
        MODEL + "reload_hook = 'ftp://x'",
        'models.m.reload_hook: expected an http:// or https:// URL, got "ftp://x"',
    ),
    (
        MODEL + "[models.m.drift]\nshare_threshold = 1.5",
        "models.m.drift.share_threshold: expected a number ≥ 0 and ≤ 1, got 1.5",
    ),
    (
        MODEL + "[models.m.drift.features.x]\nmethod = 'magic'",
        'models.m.drift.features.x.method: expected one of "auto", "psi", "ks", "wasserstein", "jensenshannon", "chisquare", got "magic"',
    ),
    (
        DATASET + MODEL + "[pipelines.p]\ndataset = 'd'\nmodel = 'm'",
        "pipelines.p.estimator: missing required key (tabular pipeline)",
    ),
    (
        DATASET
        + MODEL
        + "[pipelines.p]\ndataset = 'nope'\nmodel = 'm'\nestimator = 'sklearn.svm.SVC'",
        'pipelines.p.dataset: no dataset named "nope"',
    ),
    (
        DATASET
        + MODEL
        + "[pipelines.p]\ndataset = 'd'\nmodel = 'm'\nestimator = 'sklearn.svm.SVC'\nschedule = 'every tuesday'",
        'pipelines.p.schedule: expected an interval like "10m" or a cron expression like "*/15 * * * *", got "every tuesday"',
    ),
    (
        DATASET
        + MODEL
        + "[pipelines.p]\ndataset = 'd'\nmodel = 'm'\nestimator = 'sklearn.svm.SVC'\nretries = 'two'",
        'pipelines.p.retries: expected an integer ≥ 0 and ≤ 20, got "two"',
    ),
    (
        "[pipelines.p]\nkind = 'custom'",
        "pipelines.p.stages: a custom pipeline needs at least one stage",
    ),
    (
        "[pipelines.p]\nkind = 'custom'\n[[pipelines.p.stages]]\nname = 'a'\ncall = 'm:f'\n[[pipelines.p.stages]]\nname = 'a'\ncall = 'm:g'",
        'pipelines.p.stages[1].name: duplicate stage "a"',
    ),
    (
        "[mlflow]\ntracking_uri = 'localhost:5000'",
        'mlflow.tracking_uri: expected an http:// or https:// URL, got "localhost:5000"',
    ),
    (
        "[notifications.chat]\nurl = 'http://x'\nevents = ['everything']",
        'notifications.chat.events[0]: expected one of "run_failed", "check_failed", "drift", "promotion", "rollback", "approval_pending", "external_change", "interrupted", got "everything"',
    ),
    ("[notifications.chat]\nformat = 'slack'", "notifications.chat.url: missing required key"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_bad_config_gives_exactly_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text, PATH)
    assert str(info.value) == f"{PATH}: {message}"
    assert "\n" not in str(info.value)


def test_there_are_at_least_fifteen_bad_configs() -> None:
    assert len(BAD) >= 15


def test_empty_config_gets_every_default() -> None:
    cfg = parse("", PATH)
    assert cfg.workspace["refresh"] == 2.0
    assert cfg.policy["four_eyes"] is True and cfg.policy["approvals_required"] == 1
    assert cfg.scheduler["misfire_grace"] == 300.0
    assert cfg.database == Path("/ws/lookout.db")
    assert cfg.pipelines == {} and cfg.models == {}


def test_durations_and_defaults_are_typed() -> None:
    cfg = parse(
        DATASET
        + MODEL
        + "[pipelines.p]\ndataset = 'd'\nmodel = 'm'\nestimator = 'sklearn.svm.SVC'\nretry_backoff = '2m'\n",
        PATH,
    )
    p = cfg.pipelines["p"]
    assert p["retry_backoff"] == 120.0 and p["stage_timeout"] == 600.0
    assert p["triggers"] == {"files": None, "drift": False, "manual": True}
    assert cfg.models["m"]["primary_metric"] == "f1"
    assert cfg.models["m"]["drift"]["window_rows"] == 5000


def test_starter_configs_are_valid() -> None:
    cfg = parse(PERSONAL.format(user="alice") + EXAMPLE, PATH)
    assert "cancer_train" in cfg.pipelines and not cfg.shared
    assert cfg.policy["roles"]["approver"] == ["alice"]
    shared = parse(SHARED.format(name="w", service="svc", group="team") + EXAMPLE, PATH)
    assert shared.shared and shared.workspace["service_user"] == "svc"
    assert shared.policy["roles"]["operator"] == ["group:team"]


def test_a_shared_workspace_names_its_service_account_and_group() -> None:
    with pytest.raises(ConfigError, match=r"workspace.service_user: missing required key"):
        parse('[workspace]\nmode = "shared"\ngroup = "team"\n', PATH)
    with pytest.raises(ConfigError, match=r"workspace.group: missing required key"):
        parse('[workspace]\nmode = "shared"\nservice_user = "svc"\n', PATH)
    with pytest.raises(ConfigError, match=r'workspace.mode: expected one of "personal", "shared"'):
        parse('[workspace]\nmode = "team"\n', PATH)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no lookout.toml here"):
        load(tmp_path)
    (tmp_path / "lookout.toml").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path)


def test_loading_a_config_loads_no_numerical_library(tmp_path: Path) -> None:
    """Check types and drift methods come from their tables; their evaluators import NumPy,
    SciPy and scikit-learn only when they run, so the console's first frame and
    `lookout status` stay light. Schedules are parsed without APScheduler, an estimator's
    import path is found without importing scikit-learn."""
    import subprocess
    import sys

    checks = "".join(
        f"[[datasets.d.checks]]\nname = '{kind}'\ntype = '{kind}'\n{keys}\n"
        for kind, keys in [
            ("schema", "columns = {x = 'number'}"),
            ("not_null", "column = 'x'"),
            ("range", "column = 'x'\nmin = 0"),
            ("allowed_values", "column = 's'\nvalues = ['a']"),
            ("unique", "columns = ['x', 's']"),
            ("row_count", "min = 1"),
            ("freshness", "max_age = '1d'"),
            ("mean", "column = 'x'\nsigmas = 3"),
            ("std", "column = 'x'\nmax = 2"),
            ("drift", "method = 'ks'"),
            ("custom", "call = 'mod:fn'"),
        ]
    )
    drift = (
        "[models.m.drift]\nmethod = 'psi'\n[models.m.drift.features.x]\nmethod = 'wasserstein'\n"
    )
    pipeline = (
        "[scheduler]\ntimezone = 'Europe/Berlin'\n"
        "[pipelines.p]\ndataset = 'd'\nmodel = 'm'\nschedule = '0 9 * * mon-fri'\n"
        "estimator = 'sklearn.ensemble.RandomForestClassifier'\n"
    )
    (tmp_path / "lookout.toml").write_text(DATASET + checks + MODEL + drift + pipeline)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from lookout.scheduler.config import load\n"
        "cfg = load(Path(sys.argv[1]))\n"
        "assert len(cfg.datasets['d']['checks']) == 11\n"
        "heavy = ('numpy', 'scipy', 'sklearn', 'apscheduler')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
