"""Where an IWLS estimate meets the edge of the family's range.

Binomial, Poisson and negative binomial means have an edge (0, and 1 for the binomial)
that the response can sit on. Three situations are told apart here:

* **a response all at one edge** (y = 0 in every row, or 1 in every row): with an
  intercept, its maximum likelihood estimate is -inf (+inf) and no other parameter is
  estimable; mBR and mJPL estimates exist but are set by the adjustment alone (the
  slopes have no events to rest on; the penalised likelihood of an all-zero logistic
  response has several local maxima). :func:`check_response` refuses it for mBR and
  mJPL in the first pass; ML reports it with its parameters flagged;
* **separation** (a category without any event, complete separation): the ML
  estimate runs off to infinity. Whether a single parameter does is decided exactly
  by the recession counts (:func:`~dask_glmdist.solvers.local.recession_counts`,
  summed over the blocks of the first pass: :func:`edge_counts`); a run-off along a
  combination of columns is recognised from the iterations
  (:class:`SeparationMonitor`), its signs not determined. :func:`separation_flags`
  and :func:`warn_outcome` word the outcome;
* **an estimate on the edge** at a finite linear predictor (a Poisson identity link
  with a zero count that one parameter fits alone): the estimate lies on the boundary
  of the parameter space, without standard errors; :func:`check_on_edge` names the
  parameters that lead there.
"""

from __future__ import annotations

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._array import get_namespace
from ..diagnostics import INFINITE, UNIDENTIFIED, ParamFlag, SeparationWarning, short_list, warn
from .design_checks import redundant_columns
from .glm_kernel import linear_predictor, score_and_information
from .local import recession_counts

__all__ = ["BOUNDARY", "FINAL_BOUNDARY", "boundary_rows", "edge_counts", "edge_response",
           "check_response", "SeparationMonitor", "outside_gram_block",
           "lost_parameters", "separation_flags", "warn_outcome",
           "on_edge_block", "raise_on_edge"]

BOUNDARY = 1e-8  # during ML iterations: a fitted mean this close to the value y takes
FINAL_BOUNDARY = 10 * np.finfo(np.float64).eps  # at the estimate: R's glm "numerically 0 or 1"

def boundary_rows(family, y, mu, m, xp, tol=BOUNDARY) -> int:
    """Rows whose fitted mean has (numerically) reached the value of y at the range's edge.

    Under separation (binomial) or an all-zero group (Poisson) the maximum likelihood
    fit drives those means to 0 or 1; ordinary fits keep them inside.
    """
    if not family.response_edges:
        return 0
    hit = family.at_edge(y, mu, tol)
    if m is not None:
        hit = hit & (m > 0)
    return int(xp.sum(xp.astype(hit, xp.int64)))


def on_edge_block(X, y, m, beta, *, family, fit_intercept: bool, block_index,
                  offset=None) -> dict:
    """Rows (positive weight) whose fitted mean at ``beta`` is on the edge of the range
    where y is (within ``BOUNDARY``), or beyond it; and the Gram ``X~^T M X~``
    (intercept border first) of the other rows."""
    xp = get_namespace(X)
    eta = linear_predictor(X, beta, fit_intercept, xp, offset)
    ok = family.valid_eta(eta)
    with np.errstate(all="ignore"):
        mu = family.link.inverse(eta)
    hit = ~ok | family.at_edge(y, mu, BOUNDARY)
    active = (y == y) if m is None else (m > 0)
    hit = hit & active
    w = xp.astype(active & ~hit, X.dtype) * (1.0 if m is None else m)
    n_hit = int(xp.sum(xp.astype(hit, xp.int64)))
    return {"n_edge": n_hit, "edge_blocks": [block_index] if n_hit else [],
            "gram": score_and_information(X, xp.zeros_like(w), w, True, xp)[1]}


def raise_on_edge(edge: dict, family, method: str, names, fit_intercept: bool) -> None:
    """The estimate lies on the edge of the range (``edge``: the :func:`on_edge_block`
    pass): an error naming the parameters that only those rows determine."""
    lost = lost_parameters(edge["gram"], {}, fit_intercept)
    which = (f" Those rows alone determine {short_list(names[j] for j in lost)}: remove "
             "those columns, or use" if lost else " Use")
    raise ValueError(
        f"The {method} estimate lies on the edge of the {family.name} family's range: the "
        f"fitted means of {edge['n_edge']} row(s) (row blocks "
        f"{short_list(edge['edge_blocks'])}) reach the edge where their response is (e.g. "
        f"a mean of 0 for y = 0), which the {family.link.name} link allows at a finite "
        "linear predictor, and there the estimate has no standard errors (the likelihood "
        f"is not differentiable).{which} a link whose mean never reaches the edge (e.g. "
        "'log')."
    )


def edge_counts(X, y, m, family, fit_intercept: bool, reference_groups=()) -> dict:
    """The first pass's count of the rows on the edges, and the recession counts.

    ``n_low``: rows with positive weight and y = 0; ``n_up`` (binomial): y = 1;
    ``recession``: :func:`~dask_glmdist.solvers.local.recession_counts` (links whose
    mean reaches the edge only at an infinite linear predictor). All add over blocks.
    """
    if not family.response_edges:
        return {}
    xp = get_namespace(X, y)
    active = (y == y) if m is None else (m > 0)
    low, up = family.edge_rows(y)
    out = {"n_low": int(xp.sum(xp.astype(low & active, xp.int64)))}
    if family.domain.upper in family.response_edges:
        out["n_up"] = int(xp.sum(xp.astype(up & active, xp.int64)))
    counts = recession_counts(X, y, m, family, fit_intercept, reference_groups)
    if counts is not None:
        out["recession"] = counts
    return out


def edge_response(s, n_pos: int) -> float | None:
    """The value y takes in every row with positive weight if that is an edge of the
    range (0, or 1 for the binomial); else None. ``s``: the first pass's summary."""
    if s.n_low is not None and s.n_low == n_pos:
        return 0.0
    if s.n_up == n_pos:
        return 1.0
    return None


def check_response(s, family, method: str, fit_intercept: bool, n_pos: int) -> None:
    """mBR and mJPL: refuse a response that sits on one edge in every row (with an
    intercept), from the first pass."""
    edge = edge_response(s, n_pos)
    if method == "ML" or edge is None or not fit_intercept:
        return
    if family.domain.upper in family.response_edges:   # proportions
        none = "no event (y = 1)" if edge == 0.0 else "no non-event (y = 0)"
    else:
        none = "no positive count"
    raise ValueError(
        f"Invalid y: y is {edge:g} in every row with positive weight, the edge of the "
        f"{family.name} family's range, so the model's maximum likelihood estimate does not "
        f"exist (its intercept runs to {'-' if edge == 0 else '+'}infinity), and with "
        f"{none} in the data the {method} estimates of the other parameters would be set "
        "by the adjustment alone, not by the data. (method='ML' fits it and flags every "
        "parameter.)"
    )


class SeparationMonitor:
    """Watches ML iterations for the signature of infinite estimates.

    Separation (binomial) or an all-zero group (Poisson): fitted means of some rows
    have reached the edge of the range, and for ``patience`` iterations in a row the
    largest |coefficient| and the largest standard error grew while the steps did not
    shrink (each at least half the previous one). A converging fit's steps shrink fast
    (quadratically for canonical links), so its early growth does not qualify.
    """

    def __init__(self, patience: int = 5):
        self.patience = patience
        self.size, self.se, self.step, self.boundary, self.bse = [], [], [], [], []

    def record(self, beta, bse, step, boundary_rows):
        self.size.append(float(np.max(np.abs(beta))))
        self.se.append(float(np.max(bse)))
        self.step.append(float(step))
        self.boundary.append(int(boundary_rows))
        self.bse.append(np.asarray(bse, dtype=float))

    def growing(self) -> list[int]:
        """Parameters whose standard errors grew by over 10% across the window."""
        if len(self.bse) < 2:
            return []
        first, last = self.bse[-min(len(self.bse), self.patience + 1)], self.bse[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(first > 0, last / first, np.inf)
        return [int(j) for j in np.argsort(-ratio) if ratio[j] > 1.1]

    def diverging(self) -> bool:
        k = self.patience
        if len(self.size) < k + 1 or min(self.boundary[-k:]) == 0:
            return False
        size, se, step = (v[-(k + 1):] for v in (self.size, self.se, self.step))
        return all(
            b > a for v in (size, se) for a, b in zip(v, v[1:], strict=False)
        ) and all(b >= 0.5 * a for a, b in zip(step, step[1:], strict=False))


def outside_gram_block(X, y, m, columns, *, fit_intercept: bool, block_index,
                       offset=None) -> dict:
    """The Gram ``X~^T M X~`` (intercept border first) of the rows with positive weight
    on which every parameter in ``columns`` has a zero column: the rows that the
    infinite parameters do not fit perfectly (none if the intercept is among them)."""
    xp = get_namespace(X)
    fi = int(fit_intercept)
    keep = (y == y) if m is None else (m > 0)
    if fi and 0 in columns:
        keep = keep & False
    for j in columns:
        if j >= fi:
            keep = keep & (X[:, j - fi] == 0)
    w = xp.astype(keep, X.dtype) * (1.0 if m is None else m)
    return {"gram": score_and_information(X, xp.zeros_like(w), w, True, xp)[1]}


def lost_parameters(gram: np.ndarray, infinite, fit_intercept: bool) -> list[int]:
    """Parameters not in ``infinite`` that the rows of :func:`outside_gram_block` do not
    identify (:func:`~.design_checks.redundant_columns`; the intercept when no row is
    left): once the infinite parameters have run off, no information is left on them."""
    k = gram.shape[0] - 1 + int(fit_intercept)
    if fit_intercept and not gram[0, 0] > 0:
        return [j for j in range(k) if j not in infinite]
    return [r.index for r in redundant_columns(gram, fit_intercept) if r.index not in infinite]


def separation_flags(infinite: dict, lost, running, fit_intercept: bool,
                     edge: float | None) -> dict:
    """``{parameter index: ParamFlag}`` for an ML fit whose estimate does not exist.

    A parameter is "infinite" with a sign only when the data determine it: ``infinite``
    holds those that the recession counts summed over the blocks show to run off alone
    in that direction (:func:`~dask_glmdist.solvers.recession.infinite_parameters`);
    ``lost`` those that the rows left after them do not identify (:func:`lost_parameters`):
    "unidentified". Without any such parameter, those in ``running`` (from the
    iterations: collapsed information, or growing standard errors) run off along a
    combination of columns whose signs are not determined here: "unidentified" too.
    """
    flags = {}
    for j, sign in infinite.items():
        where = ("every row is fitted perfectly" if fit_intercept and j == 0 else
                 "every row in which its column is non-zero is fitted perfectly")
        remedy = ("" if edge is not None else
                  "; method='mBR' or 'mJPL' gives a finite estimate")
        flags[j] = ParamFlag(
            INFINITE, f"the maximum likelihood estimate is {'+' if sign > 0 else '-'}inf "
            f"(separation: {where}; coef_ holds where the iterations stopped){remedy}", sign)
    if infinite:
        note = ("not estimable: " + (
            f"every row is fitted perfectly (y is {edge:g} in every row)" if edge is not None
            else "every row in which its column is non-zero is fitted perfectly by the "
            "infinite parameters"))
        others = dict.fromkeys(lost, note)
    else:
        note = ("no finite maximum likelihood estimate: it runs off to infinity along a "
                "combination of columns (separation), with a sign not determined here; "
                "coef_ holds where the iterations stopped")
        others = dict.fromkeys(running, note)
    flags.update({j: ParamFlag(UNIDENTIFIED, text) for j, text in others.items()})
    return dict(sorted(flags.items()))


def warn_outcome(method, family, converged, separated, boundary, max_iter, flags, names,
                 edge=None):
    """One warning for the fit's outcome: separation (ML), no convergence, or fitted
    means numerically on the edge (R's glm note)."""
    if separated:
        warn(_separation_message(family, boundary, flags, names, edge), SeparationWarning)
    elif not converged:
        warn(
            f"IWLS ({method}) did not converge in max_iter={max_iter} iterations; "
            "increase max_iter or loosen tol.",
            ConvergenceWarning,
        )
    elif method == "ML" and boundary > 0:
        what = ("probabilities 0 or 1" if family.domain.upper in family.response_edges
                else "means 0")
        warn(
            f"{boundary} fitted {what} occurred (numerically, as R's glm reports them); "
            "the estimate converged, but check for near-separation.",
            UserWarning,
        )


def _separation_message(family, boundary, flags, names, edge) -> str:
    infinite = [f"{names[j]} ({'+' if f.sign > 0 else '-'}inf)" for j, f in flags.items()
                if f.kind == INFINITE]
    others = [names[j] for j, f in flags.items() if f.kind == UNIDENTIFIED]
    if infinite:
        text = ("The maximum likelihood estimate does not exist: its parameters "
                f"{short_list(infinite)} are infinite (separation: every row in which such "
                "a column is non-zero is fitted better the further the parameter goes, e.g. "
                "a category without any event, or an all-zero group).")
        if others and len(infinite) + len(others) == len(names):
            why = f"y is {edge:g} in every row" if edge is not None else "separation"
            text += (f" Every row is fitted perfectly ({why}), so no other parameter is "
                     f"estimable: {short_list(others)} are flagged unidentified.")
        elif others:
            text += (f" No information is left on {short_list(others)} (their columns are "
                     "non-zero only in rows fitted perfectly): flagged unidentified.")
    else:
        text = ("The maximum likelihood estimate appears to be infinite: over the last "
                "iterations the estimates and their standard errors kept growing while "
                f"{boundary} fitted mean(s) reached the boundary of the {family.name} range "
                "(separated data, or an all-zero group).")
        if others:
            text += (f" {short_list(others)} run off along a combination of columns; their "
                     "signs are not determined here (flagged unidentified).")
    if flags:
        text += (" The values in coef_ are artefacts of stopping; summary() shows these "
                 "parameters without standard errors.")
    else:
        text += " The reported coefficients and standard errors are artefacts of stopping."
    if edge is None:
        text += " Use method='mBR' or method='mJPL', whose estimates are finite."
    return text
