"""Customer histories simulated from BG/NBD-type processes: for tests and benchmarks.

Vectorised: no loop over customers. Times are in days.
"""
from __future__ import annotations

import numpy as np

# Published CDNOW BG/NBD estimates (Fader, Hardie & Lee 2005), in weeks: r=0.243,
# alpha=4.414, a=0.793, b=2.426. Here alpha is converted to days.
CDNOW_PARAMS = {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426}


def simulate_bgnbd(n: int, r: float, alpha: float, a: float, b: float, T_max: float = 273.0,
                   T_min: float | None = None, horizon: float = 0.0, modified: bool = False,
                   seed: int = 0, integer_days: bool = True):
    """Histories (x, t_x, T) up to each customer's age T, and repeat purchases in (T, T+horizon].

    Customers join uniformly over the first (T_max - T_min) days of the window, as in CDNOW's
    12-week acquisition cohort. With modified=True a customer may also drop out at time 0.
    """
    rng = np.random.default_rng(seed)
    T_min = T_max * 0.7 if T_min is None else T_min
    T = rng.uniform(T_min, T_max, n)
    if integer_days:
        T = np.floor(T)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    # purchases the customer makes before dropping out (geometric number of "trials")
    lifetime = rng.geometric(p) - (1 if modified else 0)
    total_window = T + horizon
    arrivals = rng.poisson(lam * total_window)
    made = np.minimum(lifetime, arrivals)
    # given n arrivals in [0, T+h], their times are uniform order statistics
    # count in [0, T]: binomial thinning of the arrivals actually made
    share = T / np.maximum(total_window, 1e-12)
    x_all = rng.binomial(arrivals, share)  # arrivals (made or not) before T
    x = np.minimum(x_all, made)
    holdout = made - x
    # the x-th of x_all uniform order statistics on [0, T] ~ T * Beta(x, x_all - x + 1)
    with np.errstate(all="ignore"):
        t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), np.maximum(x_all - x + 1, 1)), 0.0)
    if integer_days:
        t_x = np.minimum(np.floor(t_x), T)
    return x.astype(float), t_x, T, holdout.astype(float)


def simulate_spend(x, p: float = 6.25, q: float = 3.74, gamma: float = 15.44, seed: int = 1):
    """Mean repeat-order value per customer from the Gamma-Gamma process (CDNOW estimates)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x, float)
    nu = rng.gamma(q, 1.0 / gamma, len(x))
    with np.errstate(all="ignore"):
        mean = rng.gamma(np.maximum(p * x, 1e-9), 1.0 / (np.maximum(x, 1) * nu))
    return np.where(x > 0, mean, 0.0)


def simulate_orders(n: int, r: float = CDNOW_PARAMS["r"], alpha: float = CDNOW_PARAMS["alpha"],
                    a: float = CDNOW_PARAMS["a"], b: float = CDNOW_PARAMS["b"],
                    start: str = "2024-01-01", acquisition_days: int = 84, total_days: int = 546,
                    p: float = 6.25, q: float = 3.74, gamma: float = 15.44, modified: bool = False,
                    seed: int = 0):
    """Order rows (profile_id, ordered_at, amount) from a BG/NBD + Gamma-Gamma process.

    Customers make their first order uniformly in the first `acquisition_days` (CDNOW-like: a
    12-week cohort followed for 78 weeks); repeat orders follow until dropout or the end.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    join = rng.integers(0, acquisition_days, n)
    window = total_days - join  # days each customer can be seen after joining
    lam = rng.gamma(r, 1.0 / alpha, n)
    drop = rng.beta(a, b, n)
    lifetime = rng.geometric(drop) - (1 if modified else 0)
    arrivals = rng.poisson(lam * window)
    made = np.minimum(lifetime, arrivals)
    # arrival times given their number are uniform order statistics; keep the first `made`
    owner = np.repeat(np.arange(n), arrivals)
    times = rng.uniform(0, 1, len(owner)) * window[owner]
    order = np.lexsort((times, owner))
    owner, times = owner[order], times[order]
    first_index = np.cumsum(arrivals) - arrivals
    rank = np.arange(len(owner)) - first_index[owner]
    keep = rank < made[owner]
    owner, times = owner[keep], times[keep]
    nu = rng.gamma(q, 1.0 / gamma, n)
    all_owner = np.concatenate([np.arange(n), owner])
    all_day = np.concatenate([join, join[owner] + np.floor(times).astype(np.int64)])
    amount = np.round(rng.gamma(p, 1.0 / nu[all_owner]), 2)
    seconds = rng.integers(8 * 3600, 22 * 3600, len(all_owner))
    base = np.datetime64(start, "s")
    ordered_at = base + all_day.astype("timedelta64[D]") + seconds.astype("timedelta64[s]")
    width = len(str(n))
    frame = pd.DataFrame({
        "profile_id": np.char.add("p", np.char.zfill(all_owner.astype(str), width)),
        "ordered_at": ordered_at,
        "amount": amount,
    })
    return frame.sort_values(["profile_id", "ordered_at"], kind="stable").reset_index(drop=True)


def load_orders(con, frame, source: str = "sim") -> None:
    """Insert simulated orders with one profile per profile_id (profiles, members, orders)."""
    con.register("sim_orders", frame)
    try:
        con.execute("""
            CREATE OR REPLACE TEMP TABLE sim_numbered AS
            SELECT profile_id, ordered_at, amount,
                   profile_id || '-' || row_number() OVER (PARTITION BY profile_id ORDER BY ordered_at) AS rid
            FROM sim_orders
        """)
        con.execute("""
            INSERT INTO orders (source, source_record_id, order_id, ordered_at, amount, currency,
                                customer_id, email)
            SELECT ?, rid, rid, CAST(ordered_at AS TIMESTAMPTZ), amount, 'USD',
                   'C' || substr(profile_id, 2), lower(profile_id) || '@example.com'
            FROM sim_numbered
        """, [source])
        con.execute("""
            INSERT INTO profile_members (profile_id, kind, source, source_record_id)
            SELECT profile_id, 'orders', ?, rid FROM sim_numbered
        """, [source])
        con.execute("""
            INSERT INTO profiles (profile_id, email, first_name, customer_id, record_count)
            SELECT profile_id, lower(profile_id) || '@example.com', 'Customer',
                   'C' || substr(profile_id, 2), count(*)
            FROM sim_numbered GROUP BY profile_id
            ON CONFLICT (profile_id) DO NOTHING
        """)
        con.execute("DROP TABLE sim_numbered")
    finally:
        con.unregister("sim_orders")
