"""Hand-built order data for the value tests: profiles, members and orders inserted directly."""
from __future__ import annotations

import pandas as pd


def add_orders(workspace, rows, source: str = "shop") -> None:
    """rows: (profile_id, 'YYYY-MM-DD[ HH:MM]', amount[, customer_id])."""
    frame = pd.DataFrame({
        "profile_id": [r[0] for r in rows],
        "ordered_at": pd.to_datetime([r[1] for r in rows], format="mixed"),
        "amount": [float(r[2]) for r in rows],
        "customer_id": [r[3] if len(r) > 3 else f"cust-{r[0]}" for r in rows],
    })
    frame["rid"] = frame["profile_id"] + "-" + frame.index.astype(str)
    with workspace.transaction() as con:
        con.register("hand_orders", frame)
        con.execute("INSERT INTO orders (source, source_record_id, order_id, ordered_at, amount, customer_id)"
                    " SELECT ?, rid, rid, CAST(ordered_at AS TIMESTAMPTZ), amount, customer_id FROM hand_orders",
                    [source])
        con.execute("INSERT INTO profile_members SELECT profile_id, 'order', ?, rid FROM hand_orders", [source])
        con.execute("INSERT INTO profiles (profile_id, email, first_name)"
                    " SELECT DISTINCT profile_id, profile_id || '@example.com', upper(profile_id) FROM hand_orders"
                    " ON CONFLICT DO NOTHING")
        con.unregister("hand_orders")
