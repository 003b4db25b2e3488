"""Hand-built order data for the value tests: profiles, members and orders inserted directly."""
from __future__ import annotations


def add_orders(workspace, rows, source: str = "shop") -> None:
    """rows: (profile_id, 'YYYY-MM-DD[ HH:MM]', amount[, customer_id])."""
    with workspace.transaction() as con:
        for i, row in enumerate(rows):
            profile_id, when, amount = row[:3]
            customer_id = row[3] if len(row) > 3 else f"cust-{profile_id}"
            rid = f"{profile_id}-{i}"
            con.execute(
                "INSERT INTO orders (source, source_record_id, order_id, ordered_at, amount, customer_id)"
                " VALUES (?, ?, ?, CAST(? AS TIMESTAMPTZ), ?, ?)",
                [source, rid, rid, when, amount, customer_id])
            con.execute("INSERT INTO profile_members VALUES (?, 'orders', ?, ?)", [profile_id, source, rid])
            con.execute("INSERT INTO profiles (profile_id, email, first_name) VALUES (?, ?, ?)"
                        " ON CONFLICT DO NOTHING", [profile_id, f"{profile_id}@example.com", profile_id.title()])
