"""The report's ``data`` section: the orders at a glance and what reading them found."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from clvmodels.report.html import bullets, key_values


def data_section(orders: pd.DataFrame, findings: Sequence[str], sources: Mapping[str, str]) -> str:
    """Orders, customers, date range, revenue, orders per customer, repeat share, findings."""
    n_orders = len(orders)
    days = orders["timestamp"].dt.normalize()
    occasions = pd.DataFrame({"customer_id": orders["customer_id"], "day": days})
    per_customer = occasions.drop_duplicates().groupby("customer_id").size()
    n_customers = len(per_customer)
    if "revenue" in orders.columns:
        revenue = float(orders["revenue"].sum())
        revenue_rows = [
            ("revenue", f"{revenue:,.2f}"),
            ("revenue per order", f"{revenue / max(n_orders, 1):,.2f}"),
        ]
    else:
        revenue_rows = [("revenue", "none (read with --no-revenue)")]
    rows = [
        ("orders", f"{n_orders:,}"),
        ("customers", f"{n_customers:,}"),
        ("first order", f"{orders['timestamp'].min():%Y-%m-%d}"),
        ("last order", f"{orders['timestamp'].max():%Y-%m-%d}"),
        *revenue_rows,
        ("orders per customer", f"{n_orders / max(n_customers, 1):,.2f}"),
        (
            "repeat share",
            f"{float((per_customer > 1).mean()):.1%} of customers ordered on two or more days",
        ),
    ]
    source_rows = [(f"{name} input", value) for name, value in sources.items()]
    listed = bullets(findings) if findings else "<p>none</p>"
    return (
        key_values([*source_rows, *rows])
        + "<h3>Data-quality findings</h3>"
        + "<p class='caption'>What reading and checking the orders found (rows kept, dropped "
        "or changed).</p>" + listed
    )
