"""An analyst's DAG, run whenever minimizer has loaded fresh churn_analysis tables.

It is scheduled on the Assets that ``minimise_churn_analysis`` emits on each load, reads only
the minimised warehouse (through the ``minimizer_warehouse`` connection) and keeps aggregates.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import Asset, dag, task

FRESH = [
    Asset("warehouse://churn_analysis/customers"),
    Asset("warehouse://churn_analysis/orders"),
]
QUERY = """
SELECT c.loyalty_tier, count(DISTINCT c.customer_id) AS customers, count(o.customer_id) AS orders
FROM churn_analysis.customers c LEFT JOIN churn_analysis.orders o USING (customer_id)
GROUP BY c.loyalty_tier ORDER BY c.loyalty_tier
"""


@dag(
    dag_id="analyst_churn_by_tier",
    description="Customers and orders per loyalty tier, on fresh minimised churn data.",
    schedule=FRESH,
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["analytics", "consumer", "churn_analysis"],
)
def analyst_churn_by_tier() -> None:
    @task
    def orders_per_tier() -> dict[str, list[int]]:
        from minimizer.io.warehouse import open_warehouse
        from minimizer.orchestration.environment import warehouse_target

        with open_warehouse(warehouse_target()) as wh:
            frame = wh.query(QUERY)
        # Counts per tier only: a small aggregate is all that goes to XCom.
        return {
            str(tier): [int(c), int(o)]
            for tier, c, o in zip(frame.loyalty_tier, frame.customers, frame.orders, strict=True)
        }

    orders_per_tier()


analyst_churn_by_tier()
