"""An Airflow DAG that trains a wine classifier and records each version in Lookout.

extract → validate → train → evaluate → register, daily and on demand. Lookout
mirrors its runs (`[pipelines.NAME] kind = "airflow"`, `dag_id = "lookout_wine"`)
and drives it: trigger with conf, clear failed tasks, mark a run failed. The
register task records the version through Lookout's SDK (`lookout_link.py`).

scikit-learn's bundled wine table stands in for a warehouse, so every task
reloads it instead of passing data around; only small values travel in XCom.

Two conf keys rehearse what on-call meets, from Lookout or Airflow's UI:
`{"fail_once": "train"}` fails that task on its first try (clear it, and the
retry succeeds) and `{"hold": 60}` makes the first task wait that many seconds
(time to cancel the run).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import dag, get_current_context, task

MODEL = "wine_airflow"
TARGET = "cultivar"
SEED = 7


def _conf() -> dict[str, Any]:
    run = get_current_context()["dag_run"]
    return dict(run.conf or {})


def _rehearsal(task_id: str) -> None:
    """Fail on the first try when the run's conf asks this task to (`fail_once`)."""
    ti = get_current_context()["ti"]
    if _conf().get("fail_once") == task_id and ti.try_number <= 1:
        raise RuntimeError(f"{task_id} failed on purpose (conf fail_once); clear it to retry")


def _table() -> tuple[Any, Any, list[str]]:
    from sklearn.datasets import load_wine

    data = load_wine()
    names = [n.replace("/", "_") for n in data.feature_names]
    return data.data, data.target, names


def _split() -> tuple[Any, Any, Any, Any, list[str]]:
    from sklearn.model_selection import train_test_split

    x, y, names = _table()
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=SEED, stratify=y
    )
    return x_train, x_test, y_train, y_test, names


@dag(
    dag_id="lookout_wine",
    schedule="@daily",
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    tags=["lookout"],
    default_args={"retries": 0},
)
def lookout_wine() -> None:
    @task
    def extract() -> dict[str, Any]:
        import time

        hold = int(_conf().get("hold", 0))
        for second in range(hold):
            print(f"holding the run ({second + 1}/{hold}s)", flush=True)
            time.sleep(1)
        _rehearsal("extract")
        x, y, names = _table()
        print(f"read {len(x)} rows, {len(names)} features")
        return {"rows": len(x), "features": names}

    @task
    def validate(table: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        _rehearsal("validate")
        x, y, _ = _table()
        if table["rows"] < 100 or not np.isfinite(x).all():
            raise ValueError(f"{table['rows']} rows or non-finite values: refusing to train")
        print(f"{table['rows']} rows, all finite, {len(set(y.tolist()))} classes")
        return table

    @task
    def train(table: dict[str, Any]) -> str:
        _rehearsal("train")
        import joblib
        from lookout_link import artifact_dir
        from sklearn.ensemble import RandomForestClassifier

        x_train, _, y_train, _, names = _split()
        model = RandomForestClassifier(n_estimators=50, random_state=SEED).fit(x_train, y_train)
        run_id = get_current_context()["dag_run"].run_id
        path = artifact_dir(MODEL) / f"{run_id.replace(':', '_').replace('+', '_')}.joblib"
        joblib.dump({"model": model, "features": names}, path)
        print(f"trained on {len(x_train)} rows: {path}")
        return str(path)

    @task
    def evaluate(artifact: str) -> dict[str, float]:
        import joblib
        from sklearn.metrics import accuracy_score, f1_score

        _rehearsal("evaluate")
        _, x_test, _, y_test, _ = _split()
        predicted = joblib.load(artifact)["model"].predict(x_test)
        metrics = {
            "f1": float(f1_score(y_test, predicted, average="macro")),
            "accuracy": float(accuracy_score(y_test, predicted)),
        }
        print(f"held-out: {metrics}")
        return metrics

    @task
    def register(artifact: str, metrics: dict[str, float]) -> int:
        from lookout_link import register as record

        _rehearsal("register")
        context = get_current_context()
        run, ti = context["dag_run"], context["ti"]
        x_train, _, y_train, _, names = _split()
        reference = {n: x_train[:, i].tolist() for i, n in enumerate(names)}
        reference[TARGET] = y_train.tolist()
        lineage = {
            "airflow": {"dag_id": run.dag_id, "run_id": run.run_id, "try_number": ti.try_number},
            "lookout": _conf().get("lookout", {}),
        }
        version = record(
            MODEL,
            artifact,
            metrics,
            {"estimator": "RandomForestClassifier", "n_estimators": 50, "seed": SEED},
            lineage,
            reference,
            TARGET,
        )
        print(f"registered {MODEL} v{version} in Lookout")
        return version

    table = validate(extract())
    artifact = train(table)
    register(artifact, evaluate(artifact))


lookout_wine()
