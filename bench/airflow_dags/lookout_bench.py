"""The bench's DAG: ten empty tasks (start → eight side by side → finish).

Airflow's scheduler marks empty tasks done itself, without starting a worker, so a
thousand runs of ten tasks fill its metadata as real runs would, in a few minutes.
"""

from __future__ import annotations

import datetime as dt

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG(
    dag_id="lookout_bench",
    schedule=None,
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1000,
    tags=["lookout"],
):
    start = EmptyOperator(task_id="start")
    finish = EmptyOperator(task_id="finish")
    for i in range(8):
        start >> EmptyOperator(task_id=f"step_{i}") >> finish
