"""An analyst's DAG, run whenever minimizer has loaded fresh churn_analysis tables.

It is scheduled on the Assets that ``minimise_churn_analysis`` emits on each load, reads only
the minimised warehouse (through the ``minimizer_warehouse`` connection) and keeps aggregates.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, dag, task

FRESH = [
    Asset("warehouse://churn_analysis/customers"),
    Asset("warehouse://churn_analysis/orders"),
]
QUERY = """
SELECT c.age_band, count(DISTINCT c.customer_id) AS customers, count(o.customer_id) AS orders
FROM churn_analysis.customers c LEFT JOIN churn_analysis.orders o USING (customer_id)
GROUP BY c.age_band ORDER BY c.age_band
"""


@dag(
    dag_id="analyst_churn_by_age_band",
    description="Customers and orders per age band, on fresh minimised churn data.",
    schedule=FRESH,
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["analytics", "consumer", "churn_analysis"],
)
def analyst_churn_by_age_band() -> None:
    @task
    def orders_per_age_band() -> dict[str, list[int]]:
        from minimizer.io.warehouse import open_warehouse
        from minimizer.orchestration.environment import warehouse_options, warehouse_target

        target = warehouse_target()
        with open_warehouse(target, **warehouse_options(target)) as wh:
            frame = wh.query(QUERY)
        # Counts per band only: a small aggregate is all that goes to XCom.
        return {
            str(band): [int(c), int(o)]
            for band, c, o in zip(frame.age_band, frame.customers, frame.orders, strict=True)
        }

    orders_per_age_band()


analyst_churn_by_age_band()
