"""How sure is a predicted lifetime value? A range per customer and for the total, from the
uncertainty of the counting model's fitted parameters.

Method: the maximum-likelihood estimates of the log-parameters are approximately normal with
covariance the inverse Hessian of the negative log-likelihood (computed here by central
differences on the distinct histories). That uncertainty is carried to each customer's
predicted value linearly on the log scale (the delta method):

    sd(log clv_i) = sqrt(g_i' C g_i),  g_i = d log clv_i / d log-parameters,

and the range is clv_i * exp(+-Z * sd). For the total the gradient of the sum is used.

Why not a parametric bootstrap of the parameters: it needs a full prediction per draw, and
stable 5% / 95% quantiles need hundreds of draws (about 0.3 s each on a million customers);
the delta method needs one prediction per parameter (four), and on data of CDNOW's size the
two agree closely because the likelihood is close to normal in the log-parameters. What it
leaves out, and says so: the spend model's parameter uncertainty, and the chance in each
customer's own future purchases (the range is for the expected value, not for what one
person will spend).
"""
from __future__ import annotations

import numpy as np

import engine.value.btyd as btyd

Z = 1.6449  # two-sided 90%
LEVEL = "90%"
STEP = 1e-4  # finite-difference step in log-parameters
NOTE = ("from the uncertainty of the fitted purchase model's parameters; not the spend "
        "model's, nor the chance in each person's own purchases")
HESSIAN_SAMPLE = 20_000  # distinct histories the Hessian is computed on (weights rescaled)


def _with_params(model: btyd.CountModel, theta: np.ndarray) -> btyd.CountModel:
    return type(model)(params=dict(zip(model.param_names, map(float, np.exp(theta)))))


def _sample(triples: btyd.Triples, limit: int, seed: int = 0) -> btyd.Triples:
    n = len(triples.x)
    if n <= limit:
        return triples
    keep = np.random.default_rng(seed).choice(n, limit, replace=False)
    scale = triples.weight.sum() / triples.weight[keep].sum()
    return btyd.Triples(triples.x[keep], triples.t_x[keep], triples.T[keep],
                        triples.weight[keep] * scale, np.arange(limit))


def covariance(model: btyd.CountModel, triples: btyd.Triples) -> np.ndarray | None:
    """Approximate covariance of the log-parameters, or None when the Hessian is not usable."""
    sample = _sample(triples, HESSIAN_SAMPLE)
    theta = np.log([model.params[n] for n in model.param_names])
    k, h = len(theta), STEP * 10

    def f(t):
        return -_with_params(model, t).total_log_likelihood(sample)

    hessian = np.zeros((k, k))
    with np.errstate(all="ignore"):
        for i in range(k):
            for j in range(i, k):
                e_i, e_j = np.eye(k)[i] * h, np.eye(k)[j] * h
                value = (f(theta + e_i + e_j) - f(theta + e_i - e_j) - f(theta - e_i + e_j)
                         + f(theta - e_i - e_j)) / (4 * h * h)
                hessian[i, j] = hessian[j, i] = value
    if not np.all(np.isfinite(hessian)):
        return None
    try:
        cov = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        return None
    if np.any(np.diag(cov) <= 0):
        return None
    return cov


class Ranges:
    """Log-scale standard errors of predicted values, per distinct history and for sums."""

    def __init__(self, gradients: np.ndarray, cov: np.ndarray):
        self.gradients = gradients  # d log(value) / d log-parameters, one row per history
        self.cov = cov
        sd = np.einsum("ij,jk,ik->i", gradients, cov, gradients)
        self.sd = np.sqrt(np.maximum(np.nan_to_num(sd), 0.0))

    def bounds(self, values: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) of each customer's value; index maps customers to histories."""
        sd = self.sd[index]
        return values * np.exp(-Z * sd), values * np.exp(Z * sd)

    def total_bounds(self, values: np.ndarray, index: np.ndarray) -> tuple[float, float]:
        """(low, high) of the sum of values: the gradient of the sum, weighted by each value."""
        total = float(np.sum(values))
        if total <= 0:
            return 0.0, 0.0
        per_history = np.bincount(index, weights=values, minlength=len(self.gradients))
        g = per_history @ self.gradients / total
        sd = float(np.sqrt(max(g @ self.cov @ g, 0.0)))
        return total * float(np.exp(-Z * sd)), total * float(np.exp(Z * sd))


def clv_ranges(model: btyd.CountModel, triples: btyd.Triples, discounted: np.ndarray,
               horizon_days: float, discount_rate: float) -> Ranges | None:
    """Ranges for values proportional to the discounted expected purchases per history (the
    spend factor cancels in the log gradient); None when the covariance is unusable."""
    cov = covariance(model, triples)
    if cov is None:
        return None
    theta = np.log([model.params[n] for n in model.param_names])
    base = np.log(np.maximum(discounted, 1e-300))
    grads = []
    for i in range(len(theta)):
        shifted = _with_params(model, theta + np.eye(len(theta))[i] * STEP)
        moved = shifted.discounted_purchases(horizon_days, triples.x, triples.t_x, triples.T,
                                             annual_discount=discount_rate)
        grads.append(np.where(discounted > 0, (np.log(np.maximum(moved, 1e-300)) - base) / STEP, 0.0))
    return Ranges(np.column_stack(grads), cov)
