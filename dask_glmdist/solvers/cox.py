"""Cox's partial likelihood on one block of rows: the mathematics of distributed Cox regression.

One block's rows (durations, events, optional prior weights, strata within the block,
left-truncation entry times and an offset) give the log partial likelihood

    l(beta) = sum_i sum_{j dead at u_i} w_j eta_j
              - sum_i wbar_i sum_{l=0}^{m_i-1} log(S0(u_i) - (l/m_i) S0D(u_i))      (Efron)

over the distinct event times u_i of each stratum, where eta = x beta + offset,
S0(u) = sum_{j at risk at u} w_j exp(eta_j) (at risk: entry_j < u <= time_j, R's
counting-process convention), S0D(u) the same sum over the m_i rows dying at u, and
wbar_i their mean weight (R's ``coxph`` and lifelines weight Efron's tie correction so).
Breslow's approximation is the same with every l/m_i replaced by 0.

The score and the observed information are assembled without any per-event p x p
work: the sum over event times of S2(u_i)/S0(u_i) is X' diag(a g) X, where a_j =
w_j exp(eta_j) and g_j sums the event terms of the times row j is at risk at (a
difference of two cumulative sums, at its exit and its entry), and the remaining term is
V' diag(c) V with one row of V per death. Covariates are centred within the block first:
the partial likelihood does not change, the cancellation in S2/S0 - S1 S1'/S0^2 does.

:func:`fit_cox_local` is the block's own Newton fit (DLSA's local estimate); it flags
coordinates whose estimate runs off to infinity (monotone likelihood, the Cox analogue
of separation) by the rule of R's ``coxph``: at convergence of the log-likelihood, a
further Newton step that is still large relative to the coefficient.
:func:`event_table` and :func:`risk_sums` are the two pieces of Breslow's baseline
cumulative hazard summed over blocks, H0(t) = sum_{u_i <= t} d_i / sum_k S0_k(u_i).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import linalg

__all__ = ["CoxRows", "LocalCoxFit", "cox_derivatives", "fit_cox_local", "event_table",
           "informative_columns", "newton_decrement", "risk_sums"]

TIES = ("breslow", "efron")


def _column(name: str, a, n: int, dtype=np.float64) -> np.ndarray:
    a = np.asarray(a, dtype=dtype).reshape(-1)
    if a.shape[0] != n:
        raise ValueError(f"{name} has {a.shape[0]} values for {n} rows; one per row is needed.")
    if dtype is np.float64 and not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinity.")
    return a


def _events(event, n: int) -> np.ndarray:
    if event is None:
        return np.ones(n, dtype=bool)
    e = np.asarray(event).reshape(-1)
    if e.shape[0] != n:
        raise ValueError(f"event has {e.shape[0]} values for {n} rows; one per row is needed.")
    if e.dtype == bool:
        return e
    e = e.astype(np.float64)
    if not np.all((e == 0) | (e == 1)):
        bad = e[~((e == 0) | (e == 1))][:3]
        raise ValueError(f"event must be 0/1 (or boolean); found {bad.tolist()}.")
    return e == 1


@dataclass
class CoxRows:
    """One block's survival rows, validated; rows of zero weight are left out.

    Build with :meth:`build`. ``strata`` holds integer codes of the labels in
    ``labels`` (in order of first appearance; one stratum when None).
    """

    X: np.ndarray
    time: np.ndarray
    event: np.ndarray
    weight: np.ndarray
    entry: np.ndarray | None = None
    offset: np.ndarray | None = None
    strata: np.ndarray | None = None
    labels: list = field(default_factory=list)
    _parts: list | None = field(default=None, repr=False, compare=False)
    _centred: np.ndarray | None = field(default=None, repr=False, compare=False)

    @classmethod
    def build(cls, X, time, event=None, weight=None, strata=None, entry=None,
              offset=None) -> CoxRows:
        """Validate one block's rows (errors name the problem), keep those with weight and
        sort them by time (once: every evaluation relies on it)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-dimensional; got {X.ndim} dimension(s).")
        n = X.shape[0]
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or infinity.")
        time = _column("durations", time, n)
        event = _events(event, n)
        weight = np.ones(n) if weight is None else _column("sample_weight", weight, n)
        if np.any(weight < 0):
            raise ValueError("sample_weight must be non-negative.")
        if entry is not None:
            entry = _column("entry", entry, n)
            if np.any(entry > time):
                raise ValueError("entry times must not exceed the durations (entry <= time).")
            if np.any(event & (entry >= time)):
                raise ValueError("an event row must enter before its event time (entry < time).")
        if offset is not None:
            offset = _column("offset", offset, n)
        labels: list = []
        if strata is not None:
            strata = np.asarray(strata).reshape(-1)
            if strata.shape[0] != n:
                raise ValueError(f"strata has {strata.shape[0]} values for {n} rows.")
            # first-appearance codes: labels of mixed types (0, 1, "solo") need no order
            strata, uniq = pd.factorize(strata, use_na_sentinel=False)
            labels = list(uniq)
        keep = np.flatnonzero(weight > 0)
        keep = keep[np.argsort(time[keep], kind="stable")]
        X, time, event, weight = X[keep], time[keep], event[keep], weight[keep]
        entry = None if entry is None else entry[keep]
        offset = None if offset is None else offset[keep]
        strata = None if strata is None else strata[keep]
        return cls(X, time, event, weight, entry, offset, strata, labels)

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def p(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_events(self) -> float:
        """Weighted number of events."""
        return float(self.weight[self.event].sum())

    def take(self, rows) -> CoxRows:
        """The rows ``rows`` (a mask, or indices in increasing order: the rows stay sorted
        by time), as one stratum."""
        def pick(a):
            return None if a is None else a[rows]
        return CoxRows(self.X[rows], self.time[rows], self.event[rows], self.weight[rows],
                       pick(self.entry), pick(self.offset))

    def centred(self) -> np.ndarray:
        """X less its weighted column means (kept: every evaluation uses it)."""
        if self._centred is None:
            self._centred = self.X - np.average(self.X, axis=0, weights=self.weight)
        return self._centred

    def strata_rows(self) -> list[CoxRows]:
        """One :class:`CoxRows` per stratum (the rows themselves when unstratified)."""
        if self.strata is None:
            return [self]
        if self._parts is None:
            self._parts = [self.take(self.strata == k) for k in range(len(self.labels))]
        return self._parts

    def stratum(self, label) -> CoxRows:
        """The rows of the stratum ``label`` (empty when the block has none)."""
        if self.strata is None:
            raise ValueError("these rows have no strata")
        hit = [k for k, lab in enumerate(self.labels) if lab == label]
        return self.take(self.strata == hit[0] if hit else np.zeros(self.n, dtype=bool))


def _suffix(a: np.ndarray) -> np.ndarray:
    """s[k] = sum of a[k:] along axis 0, with s[len(a)] = 0."""
    out = np.zeros((a.shape[0] + 1,) + a.shape[1:])
    out[:-1] = np.cumsum(a[::-1], axis=0)[::-1]
    return out


def _at_event_times(a: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The sums of ``a`` over the rows from ``at[i]`` on (rows sorted by time; ``at``
    increasing): segment sums between the event times, then summed from the last."""
    seg = np.add.reduceat(a, at, axis=0)
    return np.cumsum(seg[::-1], axis=0)[::-1]


def _stratum_terms(r: CoxRows, beta: np.ndarray, efron: bool, order: int):
    """Log partial likelihood, score and information of one stratum's rows."""
    p = r.p
    dead = np.flatnonzero(r.event)
    if dead.size == 0:
        return 0.0, np.zeros(p), np.zeros((p, p))
    X = r.centred()
    eta = X @ beta
    if r.offset is not None:
        eta = eta + r.offset
    shift = eta.max()
    a = r.weight * np.exp(eta - shift)
    # distinct event times u, the deaths of each (rows are sorted by time), their counts
    u, first, m = np.unique(r.time[dead], return_index=True, return_counts=True)
    group = np.repeat(np.arange(u.size), m)
    frac = (np.arange(dead.size) - first[group]) / m[group] if efron else np.zeros(dead.size)
    wd = r.weight[dead]
    wbar = np.add.reduceat(wd, first) / m
    # risk-set sums at every event time: rows with time >= u, less rows with entry >= u
    at = np.searchsorted(r.time, u, side="left")
    s0 = _at_event_times(a, at)
    s1 = _at_event_times(a[:, None] * X, at)
    if r.entry is not None:
        by_entry = np.argsort(r.entry, kind="stable")
        gone = np.searchsorted(r.entry[by_entry], u, side="left")
        s0 = s0 - _suffix(a[by_entry])[gone]
        s1 = s1 - _suffix(a[by_entry, None] * X[by_entry])[gone]
    ad = a[dead]
    s0d = np.add.reduceat(ad, first)
    den = s0[group] - frac * s0d[group]
    wrow = wbar[group]
    loglik = float(wd @ (eta[dead] - shift) - wrow @ np.log(den))
    if order == 0:
        return loglik, None, None
    s1d = np.add.reduceat(ad[:, None] * X[dead], first, axis=0)
    V = s1[group] - frac[:, None] * s1d[group]
    score = wd @ X[dead] - (wrow / den) @ V
    if order == 1:
        return loglik, score, None
    # X' diag(a g) X: g_j sums c_i over the event times row j is at risk at, less the
    # tie correction e_i on the death rows themselves
    c = np.bincount(group, weights=wrow / den, minlength=u.size)
    e = np.bincount(group, weights=wrow * frac / den, minlength=u.size)
    cum = np.concatenate([[0.0], np.cumsum(c)])
    g = cum[np.searchsorted(u, r.time, side="right")]
    if r.entry is not None:
        g = g - cum[np.searchsorted(u, r.entry, side="right")]
    g[dead] -= e[group]
    info = (X * (a * g)[:, None]).T @ X - (V * ((wrow / den) / den)[:, None]).T @ V
    return loglik, score, (info + info.T) / 2


def cox_derivatives(rows: CoxRows, beta, ties: str = "efron", order: int = 2):
    """Log partial likelihood, score and observed information of one block's rows.

    Parameters
    ----------
    rows : CoxRows
        The block's rows (stratified within the block when they carry strata).
    beta : array-like of shape (p,)
        The coefficients.
    ties : {"efron", "breslow"}, default="efron"
        Handling of tied event times.
    order : {0, 1, 2}, default=2
        0: the log partial likelihood only (score and information None); 1: and the score.

    Returns
    -------
    loglik : float
    score : ndarray of shape (p,) or None
        The gradient of ``loglik``.
    information : ndarray of shape (p, p) or None
        Minus its Hessian.

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist.solvers.cox import CoxRows, cox_derivatives
    >>> rows = CoxRows.build(np.array([[0.0], [1.0], [2.0]]), [1.0, 2.0, 3.0])
    >>> ll, score, info = cox_derivatives(rows, np.zeros(1))
    >>> print(round(ll, 6), round(-np.log(6), 6))
    -1.791759 -1.791759
    """
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}; got {ties!r}.")
    beta = np.asarray(beta, dtype=np.float64).reshape(-1)
    if beta.shape[0] != rows.p:
        raise ValueError(f"beta has {beta.shape[0]} values for {rows.p} covariates.")
    p = rows.p
    loglik, score, info = 0.0, np.zeros(p), np.zeros((p, p))
    for r in rows.strata_rows():
        ll, s, i = _stratum_terms(r, beta, ties == "efron", order)
        loglik += ll
        if order >= 1:
            score += s
        if order >= 2:
            info += i
    return loglik, (score if order >= 1 else None), (info if order >= 2 else None)


@dataclass
class LocalCoxFit:
    """A block's own Cox fit (see :func:`fit_cox_local`)."""

    theta: np.ndarray
    information: np.ndarray
    loglik: float
    n_iter: int
    converged: bool
    infinite: list
    n_events: float
    dropped: list = field(default_factory=list)


def _column_sd(rows: CoxRows) -> np.ndarray:
    """Weighted standard deviation of every covariate over the rows (all strata)."""
    dev = rows.X - np.average(rows.X, axis=0, weights=rows.weight)
    return np.sqrt(np.average(dev**2, axis=0, weights=rows.weight))


def informative_columns(rows: CoxRows, information: np.ndarray) -> np.ndarray:
    """Columns with information in the rows: not constant within every risk set of their
    event times (the diagonal of the information is then 0 at every beta, up to rounding).

    Each column is judged on its own scale: its information ``I_jj`` (at 0, a sum over
    the events of the covariate's variance within the risk set) against the weighted
    number of events times the covariate's variance over all the rows, so that the
    units of a column (dollars or millions) do not matter. A column constant over the
    rows has no information.

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist.solvers.cox import CoxRows, cox_derivatives, informative_columns
    >>> X = np.array([[1e-6, 5.0], [3e-6, 5.0], [2e-6, 5.0], [0.0, 5.0]])
    >>> rows = CoxRows.build(X, [1.0, 2.0, 3.0, 4.0])
    >>> informative_columns(rows, cox_derivatives(rows, np.zeros(2))[2])
    array([ True, False])
    """
    d = np.maximum(np.diag(information), 0.0)
    if rows.n == 0 or rows.n_events <= 0:
        return np.zeros(rows.p, dtype=bool)
    var = _column_sd(rows) ** 2
    varies = np.ptp(rows.X, axis=0) > 0
    return varies & (var > 0) & (d > 1e-10 * rows.n_events * var)


def newton_decrement(score: np.ndarray, step: np.ndarray) -> float:
    """sqrt(score' I^-1 score) for the Newton step ``step = I^-1 score``: the step's length
    in standard errors (every ``|step_j| / se_j`` is at most this), free of the covariates'
    units -- the convergence measure of the local fits and of the refinement."""
    return float(np.sqrt(max(float(np.dot(score, step)), 0.0)))


def _newton_step(info: np.ndarray, score: np.ndarray, free: np.ndarray) -> np.ndarray:
    """The Newton step over the free coordinates (the others stay where they are); on an
    information that is not numerically positive definite, the step within the span of its
    eigenvalues above 1e-12 of the largest (no solver warning: far out on a monotone
    likelihood that is expected, and what it means is judged by :func:`_runaway`)."""
    step = np.zeros_like(score)
    sub = info[np.ix_(free, free)]
    try:
        step[free] = linalg.cho_solve(linalg.cho_factor(sub), score[free])
    except (linalg.LinAlgError, ValueError):
        vals, vecs = linalg.eigh(sub)
        keep = vals > 1e-12 * max(vals.max(initial=0.0), 1e-300)
        step[free] = vecs[:, keep] @ ((vecs[:, keep].T @ score[free]) / vals[keep])
    return step


def _halving(rows, ties, theta, step, ll):
    """The Newton step, halved until the log partial likelihood does not decrease and its
    derivatives are finite: (theta, loglik, score, information), or None."""
    t = 1.0
    while t >= 1e-10:
        new = theta + t * step
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            ll_new, s_new, i_new = cox_derivatives(rows, new, ties)
        if (np.isfinite(ll_new) and ll_new >= ll - 1e-12 * abs(ll)
                and np.all(np.isfinite(i_new)) and np.all(np.isfinite(s_new))):
            return new, ll_new, s_new, i_new
        t /= 2
    return None


def _runaway(rows, info, score, free, theta, tol, info0) -> list:
    """Coordinates running off to infinity (monotone likelihood). Beyond 5 per standard
    deviation of the covariate (a hazard ratio past e^5 per SD: a coordinate that merely
    has not settled beside a runaway one is not flagged), and either still moving -- its
    next Newton step large, per SD of the covariate and relative to the coefficient (R's
    ``coxph`` rule, made free of the covariate's units) -- or without information left
    (below 1e-8 of its information at the start: the likelihood is flat along it, so a
    small step there means nothing)."""
    big, moving, flat = runaway_parts(np.diag(info), np.diag(info0),
                                      _newton_step(info, score, free), theta,
                                      _column_sd(rows), tol)
    return [int(j) for j in np.flatnonzero((moving | flat) & big & free)]


def runaway_parts(info_diag, info0_diag, step, theta, scale, tol):
    """The three tests of the rule for infinite coefficients, per coordinate, on the
    covariates' ``scale`` (their standard deviation in a block; on the client, the
    square root of the information at 0 per event): ``big``, beyond 5 per unit of scale;
    ``moving``, the next Newton ``step`` large per unit of scale and relative to the
    coefficient (R's ``coxph`` rule, free of the covariate's units); ``flat``, the
    information below 1e-8 of its value at 0. The local fits (:func:`_runaway`) and the
    estimator's check after refinement combine them."""
    step = np.abs(step)
    big = np.abs(theta) * scale > 5
    moving = (step * scale > tol) & (step > np.sqrt(tol) * np.abs(theta))
    flat = info_diag < 1e-8 * info0_diag
    return big, moving, flat


def fit_cox_local(rows: CoxRows, ties: str = "efron", tol: float = 1e-9, max_iter: int = 100,
                  start=None, at_start=None) -> LocalCoxFit:
    """Maximise one block's log partial likelihood by Newton's method with step halving.

    Coordinates without information in the block (a covariate constant in every risk
    set, or a block without events: :func:`informative_columns`) stay at their start and
    are listed in ``dropped``. Converged: the Newton step is below ``tol`` standard
    errors (:func:`newton_decrement`; or the log-likelihood stopped changing and the
    next step is below ``max(tol, 1e-6)`` standard errors). Otherwise -- the
    iterations ran out, or no step up the likelihood could be computed (the risk sets'
    terms underflow far out on a monotone likelihood) -- the coordinates that run off to
    infinity (:func:`_runaway`) are listed in ``infinite``.

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist.solvers.cox import CoxRows, fit_cox_local
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> t = rng.exponential(np.exp(-X @ np.array([0.5, -0.5])))
    >>> fit = fit_cox_local(CoxRows.build(X, t))
    >>> fit.converged, fit.infinite
    (True, [])
    """
    p = rows.p
    theta = np.zeros(p) if start is None else np.asarray(start, dtype=np.float64).copy()
    # (at_start: the caller's cox_derivatives at the start, not made twice)
    ll, score, info = at_start if at_start is not None else cox_derivatives(rows, theta, ties)
    info0 = info
    free = informative_columns(rows, info)
    dropped = [int(j) for j in np.flatnonzero(~free)]
    converged = not free.any()
    n_iter = 0
    while not converged and n_iter < max_iter:
        n_iter += 1
        step = _newton_step(info, score, free)
        if newton_decrement(score, step) <= tol:
            converged = True
            break
        moved = _halving(rows, ties, theta, step, ll)
        if moved is None:  # no step up the likelihood that can be computed: stalled
            break
        flat = abs(moved[1] - ll) <= tol * max(abs(ll), 1.0)
        theta, ll, score, info = moved
        if flat and newton_decrement(score, _newton_step(info, score, free)) <= max(tol, 1e-6):
            converged = True
            break
    infinite = _runaway(rows, info, score, free, theta, tol, info0)
    return LocalCoxFit(theta, info, ll, n_iter, bool(converged and not infinite), infinite,
                       rows.n_events, dropped)


def event_table(rows: CoxRows) -> tuple[np.ndarray, np.ndarray]:
    """The block's distinct event times (sorted) and the weighted number of events at each.

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist.solvers.cox import CoxRows, event_table
    >>> event_table(CoxRows.build(np.zeros((4, 1)), [2.0, 1.0, 2.0, 3.0], [1, 1, 1, 0]))
    (array([1., 2.]), array([1., 2.]))
    """
    times, inverse = np.unique(rows.time[rows.event], return_inverse=True)
    return times, np.bincount(inverse, weights=rows.weight[rows.event], minlength=times.size)


def risk_sums(rows: CoxRows, beta, times, center=None) -> np.ndarray:
    """For every time t of ``times``: the sum of w exp((x - center)'beta + offset) over the
    block's rows at risk at t (entry < t <= time), all strata together -- summed over
    blocks, the denominator of Breslow's baseline hazard at the covariates ``center``
    (0 when None; the estimator uses the pooled mean, so that exp() does not overflow
    for covariates far from 0).

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist.solvers.cox import CoxRows, risk_sums
    >>> rows = CoxRows.build(np.zeros((3, 1)), [1.0, 2.0, 3.0])
    >>> risk_sums(rows, np.zeros(1), np.array([0.5, 2.0, 3.5]))
    array([3., 2., 0.])
    """
    times = np.asarray(times, dtype=np.float64).reshape(-1)
    X = rows.X if center is None else rows.X - np.asarray(center, dtype=np.float64)
    eta = X @ np.asarray(beta, dtype=np.float64)
    if rows.offset is not None:
        eta = eta + rows.offset
    a = rows.weight * np.exp(eta)
    out = _suffix(a)[np.searchsorted(rows.time, times, side="left")]
    if rows.entry is not None:
        order = np.argsort(rows.entry, kind="stable")
        out = out - _suffix(a[order])[np.searchsorted(rows.entry[order], times, side="left")]
    return out
