"""Buy-till-you-die models, fitted by maximum likelihood with SciPy, vectorised over customers.

Counting models (time in days):

* ``bgnbd``  BG/NBD (Fader, Hardie & Lee 2005). Its probability alive is 1 for every
  one-time buyer, so it ranks churn badly; use it for expected purchases.
* ``mbgnbd`` modified BG/NBD (Batislam, Denizel & Filiztekin 2007): customers may also
  drop out right after their first purchase, so one-time buyers get a real p_alive.
* ``pareto`` Pareto/NBD (Schmittlein, Morrison & Colombo 1987; Hardie's 2005 derivations).

Spend model: ``GammaGamma`` (Fader, Hardie & Lee 2005, "RFM and CLV").

Customer histories are summarised as (x, t_x, T): repeat purchase days, days from first
to last purchase day, days from first purchase day to the as-of date. Those triples repeat a
lot, so the likelihood and the predictions are computed once per distinct triple
(``compress``) and weighted by how many customers share it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from scipy import optimize
from scipy.special import digamma, expit, gammaln, hyp2f1

MODEL_NAMES = {
    "bgnbd": "BG/NBD",
    "mbgnbd": "Modified BG/NBD",
    "pareto": "Pareto/NBD",
}


def _dot(a, b) -> float:
    """Sum of products without BLAS: on a busy 2-core machine OpenBLAS's threads made a
    10,000-element np.dot take ~9 ms instead of ~0.01 ms."""
    return float(np.sum(np.multiply(a, b)))


PENALTY = 0.01  # L2 on log-parameters, in log-likelihood units (see CountModel.fit)


class FitError(RuntimeError):
    """The maximum-likelihood fit did not converge to a usable answer."""


# -- data ----------------------------------------------------------------------
@dataclass
class Triples:
    """Distinct (x, t_x, T) histories, how many customers share each, and the way back."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    weight: np.ndarray
    inverse: np.ndarray  # customer i has triple inverse[i]

    def expand(self, values: np.ndarray) -> np.ndarray:
        return values[self.inverse]


def compress(x, t_x, T) -> Triples:
    """Group customers by their integer (x, t_x, T) history."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if len(x) == 0:
        empty = np.zeros(0)
        return Triples(empty, empty, empty, empty, np.zeros(0, dtype=np.int64))
    if (x < 0).any() or (t_x < 0).any() or (T < t_x).any():
        raise ValueError("Histories need 0 <= recency <= T and frequency >= 0.")
    if not all(np.array_equal(v, np.round(v)) for v in (x, t_x, T)):
        rows, inverse, counts = np.unique(np.column_stack([x, t_x, T]), axis=0,
                                          return_inverse=True, return_counts=True)
        return Triples(rows[:, 0], rows[:, 1], rows[:, 2], counts.astype(float), inverse.ravel())
    x, t_x, T = (v.astype(np.int64) for v in (x, t_x, T))
    span = int(T.max()) + 1
    key = (x * span + t_x) * span + T
    unique, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    ux, rest = np.divmod(unique, span * span)
    utx, uT = np.divmod(rest, span)
    return Triples(ux.astype(float), utx.astype(float), uT.astype(float), counts.astype(float),
                   inverse.ravel())


def unique_pairs(a, b) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (a, b) rows and the way back, like np.unique(..., axis=0) but on one integer
    key when both are whole non-negative numbers (np.unique on rows sorts structured values,
    ~10x slower on a million customers)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) and (a >= 0).all() and (b >= 0).all() and np.array_equal(a, np.round(a)) \
            and np.array_equal(b, np.round(b)):
        span = int(b.max()) + 1
        unique, inverse = np.unique(a.astype(np.int64) * span + b.astype(np.int64), return_inverse=True)
        ua, ub = np.divmod(unique, span)
        return np.column_stack([ua, ub]).astype(float), inverse.ravel()
    rows, inverse = np.unique(np.column_stack([a, b]), axis=0, return_inverse=True)
    return rows, inverse.ravel()


# -- fitting helper ---------------------------------------------------------------
def _minimise(neg_ll, start: np.ndarray, names: tuple[str, ...], jac: bool = False) -> np.ndarray:
    """Minimise over log-parameters (keeps them positive); polish with Nelder-Mead if needed.

    With jac=True, neg_ll returns (value, gradient).
    """
    from threadpoolctl import threadpool_limits

    # L-BFGS-B calls BLAS on tiny vectors: threads only contend on a busy machine
    with np.errstate(all="ignore"), threadpool_limits(limits=1, user_api="blas"):
        def safe(theta):
            value = neg_ll(theta)
            if jac:
                return (value[0], value[1]) if np.isfinite(value[0]) else (1e300, np.zeros_like(theta))
            return value if np.isfinite(value) else 1e300

        def value_only(theta):
            return safe(theta)[0] if jac else safe(theta)

        result = optimize.minimize(safe, start, method="L-BFGS-B", jac=jac,
                                   options={"maxiter": 500, "ftol": 1e-12, "gtol": 1e-7})
        if not result.success or not np.isfinite(result.fun):
            polish = optimize.minimize(value_only, result.x, method="Nelder-Mead",
                                       options={"maxiter": 800, "xatol": 1e-6, "fatol": 1e-10})
            if polish.fun <= result.fun:
                result = polish
    theta = result.x
    if not np.all(np.isfinite(theta)) or result.fun >= 1e299 or np.any(np.abs(theta) > 25):
        raise FitError(
            "The model did not converge on this data (parameters ran off to "
            + ", ".join(f"{n}={np.exp(v):.3g}" for n, v in zip(names, theta)) + ")."
        )
    return np.exp(theta)


def _start(triples: Triples, n_params: int) -> np.ndarray:
    w = triples.weight
    mean_x = max(float(np.average(triples.x, weights=w)), 0.05)
    mean_T = max(float(np.average(triples.T, weights=w)), 1.0)
    alpha = mean_T / mean_x  # r = 1: mean purchase rate r / alpha matches the data
    if n_params == 4:
        return np.log(np.array([1.0, alpha, 1.0, 3.0]))
    return np.log(np.array([1.0, alpha]))


# -- counting models --------------------------------------------------------------
@dataclass
class CountModel:
    """Shared interface; subclasses define the likelihood and the conditional predictions."""

    params: dict[str, float] = field(default_factory=dict)
    key: ClassVar[str] = ""
    param_names: ClassVar[tuple[str, ...]] = ()

    @property
    def name(self) -> str:
        return MODEL_NAMES[self.key]

    def _p(self):
        return tuple(self.params[n] for n in self.param_names)

    def log_likelihood(self, x, t_x, T, params=None) -> np.ndarray:
        raise NotImplementedError

    def fit(self, triples: Triples) -> "CountModel":
        if triples.weight.sum() == 0:
            raise FitError("No customers to fit.")
        total = triples.weight.sum()
        x, t_x, T, w = triples.x, triples.t_x, triples.T, triples.weight

        def neg_ll(theta):
            # a penalty worth one customer keeps tiny data sets from sending a and b to infinity;
            # on thousands of customers it is negligible
            penalty = PENALTY * _dot(theta, theta)
            return (penalty - _dot(w, self.log_likelihood(x, t_x, T, np.exp(theta)))) / total

        values = _minimise(neg_ll, self._start(triples), self.param_names)
        self.params = dict(zip(self.param_names, map(float, values)))
        self.params_ll = -neg_ll(np.log(values)) * total
        return self

    def _start(self, triples: Triples) -> np.ndarray:
        return _start(triples, len(self.param_names))

    def total_log_likelihood(self, triples: Triples) -> float:
        return float(_dot(triples.weight, self.log_likelihood(triples.x, triples.t_x, triples.T)))

    def expected_purchases(self, t, x, t_x, T):
        """Expected repeat purchases in (T, T + t] given the history."""
        return self.expected_if_alive(t, x, T) * self.p_alive(x, t_x, T)

    def predict(self, horizon_days: float, x, t_x, T, annual_discount: float = 0.0,
                step_days: float = 30.0):
        """(expected purchases, discounted expected purchases, p_alive) per history.

        Expected purchases given alive depend on (x, T) only, so they are computed once per
        distinct pair; the horizon is cut in 30-day steps, each discounted to the as-of date.
        """
        x, t_x, T = (np.asarray(v, float) for v in (x, t_x, T))
        pairs, inverse = unique_pairs(x, T)
        px, pT = pairs[:, 0], pairs[:, 1]
        steps = np.unique(np.append(np.arange(step_days, horizon_days, step_days), horizon_days))
        discounted = np.zeros(len(px))
        previous = np.zeros(len(px))
        for t in steps:  # a handful of horizon steps, each vectorised over histories
            current = self.expected_if_alive(float(t), px, pT)
            discounted += (current - previous) * (1.0 + annual_discount) ** (-t / 365.0)
            previous = current
        alive = self.p_alive(x, t_x, T)
        return previous[inverse] * alive, discounted[inverse] * alive, alive

    def discounted_purchases(self, horizon_days: float, x, t_x, T, annual_discount: float = 0.0,
                             step_days: float = 30.0) -> np.ndarray:
        return self.predict(horizon_days, x, t_x, T, annual_discount, step_days)[1]


def _log_ratio_pow(power, num, den):
    return power * (np.log(num) - np.log(den))


class BGNBD(CountModel):
    key = "bgnbd"
    param_names = ("r", "alpha", "a", "b")
    shift: ClassVar[int] = 0  # MBG/NBD: 1 (a dropout chance at time 0 too)

    def fit(self, triples: Triples) -> "BGNBD":
        """Maximum likelihood with an analytic gradient.

        Every term depends on x, t_x or T alone except the final log-sum-exp, so the special
        functions are evaluated on the few distinct values of each and gathered: one fit on a
        million customers costs a few hundred thousand cheap array operations per step.
        """
        if triples.weight.sum() == 0:
            raise FitError("No customers to fit.")
        w = triples.weight
        total = w.sum()
        ux, ix = np.unique(triples.x, return_inverse=True)
        utx, itx = np.unique(triples.t_x, return_inverse=True)
        uT, iT = np.unique(triples.T, return_inverse=True)
        x = triples.x
        wx = np.bincount(ix, weights=w)  # customers per distinct x
        s = self.shift
        has_a4 = (x > 0) if s == 0 else np.ones(len(x), bool)
        ux_a4 = np.where((ux > 0) | (s == 1), ux, 1.0)  # keeps log(b + x - 1) defined where unused

        def neg_ll(theta):
            r, alpha, a, b = np.exp(theta)
            log_aT = np.log(alpha + uT)
            log_atx = np.log(alpha + utx)
            rx = r + x
            a3 = -rx * log_aT[iT]
            log_b_x = np.log(b + ux_a4 + s - 1.0)
            a4 = np.where(has_a4, np.log(a) - log_b_x[ix] - rx * log_atx[itx], -np.inf)
            lse = np.logaddexp(a3, a4)
            w4 = np.exp(a4 - lse)
            w3 = 1.0 - w4
            per_x = (gammaln(r + ux) + gammaln(b + ux + s) - gammaln(a + b + ux + s))
            ll = (_dot(wx, per_x) + total * (r * np.log(alpha) - gammaln(r) + gammaln(a + b) - gammaln(b))
                  + _dot(w, lse))
            ww3, ww4 = w * w3, w * w4
            d_r = (_dot(wx, digamma(r + ux)) + total * (np.log(alpha) - digamma(r))
                   - _dot(ww3, log_aT[iT]) - _dot(ww4, log_atx[itx]))
            d_alpha = (total * r / alpha - _dot(ww3 * rx, (1.0 / (alpha + uT))[iT])
                       - _dot(ww4 * rx, (1.0 / (alpha + utx))[itx]))
            psi_ab = digamma(a + b + ux + s)
            d_a = total * digamma(a + b) - _dot(wx, psi_ab) + ww4.sum() / a
            d_b = (total * (digamma(a + b) - digamma(b)) + _dot(wx, digamma(b + ux + s) - psi_ab)
                   - _dot(ww4, (1.0 / (b + ux_a4 + s - 1.0))[ix]))
            grad = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
            penalty = PENALTY * _dot(theta, theta)
            return (penalty - ll) / total, (2 * PENALTY * theta - grad) / total

        values = _minimise(neg_ll, self._start(triples), self.param_names, jac=True)
        self.params = dict(zip(self.param_names, map(float, values)))
        return self

    def log_likelihood(self, x, t_x, T, params=None):
        r, alpha, a, b = params if params is not None else self._p()
        x = np.asarray(x, float)
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
        a3 = -(r + x) * np.log(alpha + T)
        repeat = x > 0
        with np.errstate(all="ignore"):
            a4 = np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x)
        a4 = np.where(repeat, a4, -np.inf)
        return a1 + a2 + np.logaddexp(a3, a4)

    def _log_odds_dead(self, x, t_x, T):
        r, alpha, a, b = self._p()
        x = np.asarray(x, float)
        with np.errstate(all="ignore"):
            value = np.log(a) - np.log(np.where(x > 0, b + x - 1, 1.0)) + _log_ratio_pow(r + x, alpha + T, alpha + t_x)
        return np.where(x > 0, value, -np.inf)

    def p_alive(self, x, t_x, T):
        return expit(-self._log_odds_dead(x, t_x, T))

    def expected_if_alive(self, t, x, T):
        r, alpha, a, b = self._p()
        x = np.asarray(x, float)
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        bracket = 1.0 - np.exp(_log_ratio_pow(r + x, alpha + T, alpha + T + t)) * hyp
        value = (a + b + x - 1) / (a - 1) * bracket
        return np.clip(np.nan_to_num(value, nan=0.0, posinf=0.0), 0.0, None)

    def population_expected(self, t):
        r, alpha, a, b = self._p()
        hyp = hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)


class MBGNBD(BGNBD):
    key = "mbgnbd"
    shift = 1

    def log_likelihood(self, x, t_x, T, params=None):
        r, alpha, a, b = params if params is not None else self._p()
        x = np.asarray(x, float)
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = gammaln(a + b) + gammaln(b + x + 1) - gammaln(b) - gammaln(a + b + x + 1)
        a3 = -(r + x) * np.log(alpha + T)
        a4 = np.log(a) - np.log(b + x) + _log_ratio_pow(r + x, alpha + T, alpha + t_x)
        return a1 + a2 + a3 + np.logaddexp(0.0, a4)

    def _log_odds_dead(self, x, t_x, T):
        r, alpha, a, b = self._p()
        x = np.asarray(x, float)
        return np.log(a) - np.log(b + x) + _log_ratio_pow(r + x, alpha + T, alpha + t_x)

    def expected_if_alive(self, t, x, T):
        r, alpha, a, b = self._p()
        x = np.asarray(x, float)
        hyp = hyp2f1(r + x, b + x + 1, a + b + x, t / (alpha + T + t))
        bracket = 1.0 - np.exp(_log_ratio_pow(r + x, alpha + T, alpha + T + t)) * hyp
        value = (a + b + x) / (a - 1) * bracket
        return np.clip(np.nan_to_num(value, nan=0.0, posinf=0.0), 0.0, None)


class ParetoNBD(CountModel):
    key = "pareto"
    param_names = ("r", "alpha", "s", "beta")

    def _start(self, triples):
        start = _start(triples, 4)
        start[3] = start[1]  # beta on the same time scale as alpha
        return start

    @staticmethod
    def _a0_term(r, alpha, s, beta, x, t):
        """log of 2F1(r+s+x, c; r+s+x+1; |alpha-beta|/(max+t)) / (max+t)^(r+s+x)."""
        if alpha >= beta:
            big, small, second = alpha, beta, s + 1.0
        else:
            big, small, second = beta, alpha, r + x
        rsx = r + s + x
        with np.errstate(all="ignore"):
            return np.log(hyp2f1(rsx, second, rsx + 1.0, (big - small) / (big + t))) - rsx * np.log(big + t)

    @staticmethod
    def _combine_a0(term1, term2):
        # A0 = e^term1 - e^term2 > 0; log(e^a - e^b) = a + log(-expm1(b - a))
        with np.errstate(all="ignore"):
            return term1 + np.log(-np.expm1(np.minimum(term2 - term1, 0.0)))

    @classmethod
    def _log_a0(cls, r, alpha, s, beta, x, t_x, T):
        """log A0, equations (19)-(20) of Hardie's Pareto/NBD derivations, in log space; the
        hypergeometric terms once per distinct (x, t) pair."""
        x, t_x, T = np.broadcast_arrays(*(np.asarray(v, float) for v in (x, t_x, T)))

        def term(t):
            pairs, inverse = unique_pairs(x.ravel(), t.ravel())
            return cls._a0_term(r, alpha, s, beta, pairs[:, 0], pairs[:, 1])[inverse].reshape(x.shape)

        return cls._combine_a0(term(t_x), term(T))

    def fit(self, triples: Triples) -> "ParetoNBD":
        """Maximum likelihood; the hypergeometric terms depend on (x, t_x) or (x, T) only, so
        they are evaluated once per distinct pair and gathered."""
        if triples.weight.sum() == 0:
            raise FitError("No customers to fit.")
        x, w = triples.x, triples.weight
        total = w.sum()
        xt, inv_xt = unique_pairs(x, triples.t_x)
        xT, inv_xT = unique_pairs(x, triples.T)

        def neg_ll(theta):
            r, alpha, s, beta = np.exp(theta)
            term1 = self._a0_term(r, alpha, s, beta, xt[:, 0], xt[:, 1])[inv_xt]
            term2 = self._a0_term(r, alpha, s, beta, xT[:, 0], xT[:, 1])[inv_xT]
            log_a0 = self._combine_a0(term1, term2)
            # alive at T: also a function of the (x, T) pair
            alive = (-(r + xT[:, 0]) * np.log(alpha + xT[:, 1]) - s * np.log(beta + xT[:, 1]))[inv_xT]
            a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
            ll = a1 + np.logaddexp(alive, np.log(s) + log_a0 - np.log(r + s + x))
            return (PENALTY * _dot(theta, theta) - _dot(w, ll)) / total

        values = _minimise(neg_ll, self._start(triples), self.param_names)
        self.params = dict(zip(self.param_names, map(float, values)))
        return self

    def log_likelihood(self, x, t_x, T, params=None):
        r, alpha, s, beta = params if params is not None else self._p()
        x = np.asarray(x, float)
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        log_a0 = self._log_a0(r, alpha, s, beta, x, t_x, T)
        alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        # customers who never repeated at t_x = T have A0 = 0 (log -inf): logaddexp copes
        return a1 + np.logaddexp(alive, np.log(s) + log_a0 - np.log(r + s + x))

    def p_alive(self, x, t_x, T):
        r, alpha, s, beta = self._p()
        x = np.asarray(x, float)
        log_a0 = self._log_a0(r, alpha, s, beta, x, t_x, T)
        odds = np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T) + s * np.log(beta + T) + log_a0
        return expit(-np.nan_to_num(odds, nan=-np.inf))

    def expected_if_alive(self, t, x, T):
        r, alpha, s, beta = self._p()
        x = np.asarray(x, float)
        # E[Y(t) | alive] = (r + x)/(alpha + T) * (beta + T)/(s - 1) * (1 - ((beta+T)/(beta+T+t))^(s-1))
        log_ratio = np.log(beta + T) - np.log(beta + T + t)
        if abs(s - 1.0) < 1e-8:
            time_part = -log_ratio * (beta + T)
        else:
            time_part = -np.expm1((s - 1.0) * log_ratio) / (s - 1.0) * (beta + T)
        value = (r + x) / (alpha + T) * time_part
        return np.clip(np.nan_to_num(value, nan=0.0, posinf=0.0), 0.0, None)


COUNT_MODELS: dict[str, type[CountModel]] = {"bgnbd": BGNBD, "mbgnbd": MBGNBD, "pareto": ParetoNBD}


def count_model(key: str) -> CountModel:
    if key not in COUNT_MODELS:
        raise ValueError(f"Unknown model {key!r}; choose one of {', '.join(COUNT_MODELS)}.")
    return COUNT_MODELS[key]()


# -- spend model ------------------------------------------------------------------
@dataclass
class GammaGamma:
    """Spend per order: fitted on repeat buyers' mean repeat-order value."""

    params: dict[str, float] = field(default_factory=dict)
    param_names: ClassVar[tuple[str, ...]] = ("p", "q", "gamma")

    def fit(self, x, monetary) -> "GammaGamma":
        x = np.asarray(x, float)
        m = np.asarray(monetary, float)
        keep = (x > 0) & (m > 0) & np.isfinite(m)
        x, m = x[keep], m[keep]
        if len(x) < 2:
            raise FitError("Too few repeat buyers with positive spend to fit the spend model.")
        # Sufficient statistics: only the last term needs every customer on each evaluation.
        ux, x_index = np.unique(x, return_inverse=True)
        ux_counts = np.bincount(x_index).astype(float)
        log_m = np.log(m)
        sum_log_m = log_m.sum()
        sum_x_log_m = float(_dot(x, log_m))
        sum_x_log_x = float(_dot(x, np.log(x)))
        mx = m * x
        n = len(x)

        def neg_ll(theta):
            """Negative mean log-likelihood and its gradient in log-parameters."""
            p, q, g = np.exp(theta)
            log_gmx = np.log(g + mx)
            inv_gmx = 1.0 / (g + mx)
            px = p * ux
            ll = (_dot(ux_counts, gammaln(px + q) - gammaln(px)) - n * gammaln(q)
                  + n * q * np.log(g) + p * sum_x_log_m - sum_log_m + p * sum_x_log_x
                  - p * _dot(x, log_gmx) - q * log_gmx.sum())
            d_p = (_dot(ux_counts * ux, digamma(px + q) - digamma(px)) + sum_x_log_m + sum_x_log_x
                   - _dot(x, log_gmx))
            d_q = _dot(ux_counts, digamma(px + q)) - n * digamma(q) + n * np.log(g) - log_gmx.sum()
            d_g = n * q / g - p * _dot(x, inv_gmx) - q * inv_gmx.sum()
            return -ll / n, -np.array([d_p * p, d_q * q, d_g * g]) / n

        mean_m = float(m.mean())
        start = np.log(np.array([2.0, 3.0, mean_m]))
        values = _minimise(neg_ll, start, self.param_names, jac=True)
        self.params = dict(zip(self.param_names, map(float, values)))
        return self

    def expected_spend(self, x, monetary) -> np.ndarray:
        """Expected value of a future order; the population mean for customers without repeats."""
        p, q, g = (self.params[n] for n in self.param_names)
        x = np.asarray(x, float)
        m = np.nan_to_num(np.asarray(monetary, float), nan=0.0)
        population = p * g / (q - 1.0) if q > 1 else np.nan
        with np.errstate(all="ignore"):
            individual = p * (g + m * x) / (p * x + q - 1.0)
        return np.where((x > 0) & (m > 0), individual, population)
