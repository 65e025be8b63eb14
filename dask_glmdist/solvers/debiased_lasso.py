"""One-shot distributed debiased lasso (Lee, Liu, Sun & Taylor 2015).

One round over the row blocks. Block k (``n_k`` rows, or prior weights summing to
``S_k``) fits the elastic-net GLM of its averaged loss,

    beta_k = argmin  -loglik_k(beta) / S_k + sum_j alpha_j ((1 - l1_ratio) beta_j^2 / 2
                                                      + l1_ratio |beta_j|)

(statsmodels' ``fit_regularized`` objective, dispersion 1; :mod:`.local_enet`), and
returns, at beta_k,

* the gradient of the smooth part, ``g_k = -X~_k^T r_k / S_k + alpha (1 - l1_ratio) beta_k``;
* the weighted Gram ``A_k = X~_k^T W_k X~_k`` (``W`` the expected-information weights,
  ``m d^2 / V(mu)``), i.e. the Gram of the weighted design ``sqrt(W) X~``;
* node-wise lasso rows of the approximate inverse ``Theta`` of ``Sigma_k = A_k / S_k``
  (:func:`.gram_cd.nodewise_lasso`, penalty ``nodewise_alpha``): with
  ``nodewise="mosaic"`` (statsmodels' join) only its share of the rows,
  ``j in {k q, ..., (k + 1) q - 1}``, ``q = ceil(p / K)``; with ``"full"`` all rows.

The master averages (unweighted, as statsmodels does) and debiases:

    beta_d = mean_k beta_k - Theta mean_k g_k,

with Theta the stacked rows (mosaic) or the mean of the blocks' rows (full), then
sets coefficients with ``|beta_d_j| < threshold`` to 0. A coefficient whose column
is constant within some block (a dummy that never switches on there) is averaged,
with its gradient, over the other blocks only: such a block has coefficient and
gradient 0 there and no information about it. A node-wise row that no block forms
(its block cannot, for that reason, or was left out or empty) is computed on the
master from the blocks' mean ``Sigma = mean_k Sigma_k``. The naive joins are the
mean of the penalised fits (``"naive"``) or of the local maximum likelihood fits
(``"naive_unregularized"``), thresholded the same way.

Inference (which statsmodels does not provide): to first order
``beta_d - beta = -Theta mean_k g_k(beta)``, and the averaged score has covariance
``phi / K^2 sum_k A_k / S_k^2`` (``phi / N * A / N`` for equal blocks), so

    cov(beta_d) = phi Theta (sum_k A_k / S_k^2 / K^2) Theta^T,

the sandwich of van de Geer, Buehlmann, Ritov & Dezeure (2014). For the naive
unregularized mean, ``cov = phi sum_k A_k^{-1} / K^2``.

A coefficient averaged over the ``c_j`` blocks that inform it has its gradient
averaged the same way; a node-wise row formed in one block (an inverse of that
block's ``Sigma_k``) matches that scaling. A row formed from the mean ``Sigma``
matches the plain mean of the gradients instead, so the master writes the
correction as ``Theta~ mean_k g_k`` with ``Theta~ = Theta diag(K / c)`` for rows
formed in blocks and ``Theta~ = Theta`` for rows formed from the mean ``Sigma``; the
covariance is ``phi Theta~ (sum_k A_k / S_k^2 / K^2) Theta~^T``. (With every column
informative in every block, ``c = K`` and this is the formula above.)

Which blocks are used is decided on the master from the blocks' records, in the
same round: a block with fewer positive-weight rows than :func:`min_block_rows`
(fewer than 20 per parameter, and fewer than about a quarter to a half of the median
block's) is left out: its local fit is not covered by the large-block theory, and
it would get an equal share of the average. So that the master can leave a block
out after the sums are formed, a block with fewer than 20 rows per parameter files
its sums under its *size class* ``floor(log2(rows))`` (the others under ``"big"``);
the classes kept are summed on the master.

Standardisation (``standardize=True``). The estimator is one round, so the global
standard deviations are not known when the blocks fit: every block divides its
columns by its *own* weighted standard deviations, fits, forms its node-wise rows on
those columns, and returns its sums transformed back to the columns' units
(:func:`_unstandardize`); rows the master forms from the pooled Gram use the mean of
the blocks' standard deviations. With blocks alike in distribution (the setting of
Lee et al.) the blocks' standard deviations differ from the global ones by
``O(n_k^-1/2)``. Centring needs nothing: the unpenalised intercept absorbs it.

The intercept, when fitted, is a column of ones with penalty 0: unpenalised in the
local fits and in the node-wise regressions (which then amount to weighted
centring), and never thresholded.

Separation. The debiasing targets the unpenalised parameter, which does not exist
where the maximum likelihood estimate is infinite. For families whose estimates can
run off (``family.separable``) every block also
returns its recession counts (:func:`~dask_glmdist.solvers.local.recession_counts`:
summed, they say exactly which single parameters run off), and a block of at least
20 rows per parameter checks whether its unpenalised local MLE exists
(:func:`_separation_check`). When it diverges in every such block, the master probes
the blocks' mean divergence direction over all the data in one more round
(:func:`separation_probe_block`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._array import get_namespace, to_host
from .._blocks import Problems, check_block
from ..linalg import PSDFactor
from .glm_kernel import (
    block_terms,
    design_t_vec,
    linear_predictor,
    log_weight_sum,
    score_and_information,
)
from .gram_cd import MAX_SWEEPS, nodewise_lasso
from .local import (
    fit_local,
    recession_counts,
)
from .local_enet import fit_local_enet
from .recession import recession_block

__all__ = [
    "METHODS", "NODEWISE", "LassoSpec", "debiased_lasso_block", "join", "merge_size_classes",
    "block_key", "min_block_rows", "mosaic_rows", "pearson_block", "size_class",
    "separation_direction", "separation_probe_block",
]

METHODS = ("debiased", "naive", "naive_unregularized")
NODEWISE = ("mosaic", "full")

# weighted variance (about the intercept) below this fraction of the second moment:
# the column is constant within the block
CONSTANT_COLUMN = 1e-10
# tau_j^2 below this fraction of Sigma_jj: column j is (nearly) a combination of the
# others within the block (e.g. a dummy that is constant there) and its node-wise row
# from this block is unusable.
DEGENERATE_TAU2 = 1e-10
# block sums are filed under "<name>@<size class>", or "<name>@big" for blocks with
# at least this many rows per parameter (the rows per parameter below which
# default_n_partitions does not split in-memory data: a stable local estimate)
CLASS_SEP = "@"
BIG = "big"
STABLE_ROWS_PER_PARAMETER = 20
# a diverging local ML fit moves along the parameters whose (standardised) step is at
# least this share of the largest one; the others have converged
MATERIAL_SHARE = 0.1
# a second scoring step that moves no linear predictor by more than this: the local
# MLE exists (canonical links; see _settles)
SETTLED_ETA = 0.1


@dataclass(frozen=True)
class LassoSpec:
    """What every block needs to know (small; shipped with the round)."""

    method: str
    nodewise: str
    l1: np.ndarray            # per parameter, intercept first (0 there)
    l2: np.ndarray
    nodewise_alpha: np.ndarray
    fit_intercept: bool
    tol: float
    max_iter: int
    n_blocks: int
    min_rows: int
    sufficient_stats: bool    # gaussian identity: return y'My and X~'My
    standardize: bool = False  # each block fits its columns divided by their sds
    reference_groups: tuple = ()  # recession.reference_groups (the recession counts)


def size_class(rows: int) -> int:
    """``floor(log2(rows))`` for ``rows >= 1``: the key under which a block files its sums."""
    return int(rows).bit_length() - 1


def block_key(rows: int, n_params: int) -> str:
    """The key under which a block of ``rows`` positive-weight rows files its sums."""
    if rows >= STABLE_ROWS_PER_PARAMETER * n_params:
        return BIG
    return str(size_class(rows))


def min_block_rows(median_rows: float, n_params: int) -> int:
    """Fewest positive-weight rows a block needs to be used.

    ``20 * n_params`` (a stable local fit), or, when fewer, the largest power of two
    not above half the median block's rows (between a quarter and a half of it), so
    that blocks that are all small (the high-dimensional setting) are all used. The
    blocks left out are whole size classes (:func:`block_key`), dropped after the
    round.
    """
    relative = 1 if median_rows < 2 else 2 ** (size_class(int(median_rows)) - 1)
    return min(STABLE_ROWS_PER_PARAMETER * n_params, relative)


def merge_size_classes(s: dict, min_rows: int) -> dict:
    """The summed block sums of the blocks with at least ``min_rows`` rows."""
    out: dict = {}
    for key in sorted(k for k in s if CLASS_SEP in k):
        name, cls = key.rsplit(CLASS_SEP, 1)
        if cls == BIG or 2 ** int(cls) >= min_rows:
            out[name] = out[name] + s[key] if name in out else s[key]
    return out


def mosaic_rows(block_index: int, n_blocks: int, n_params: int) -> range:
    """The node-wise rows block ``block_index`` computes in statsmodels' join."""
    q = math.ceil(n_params / n_blocks)
    return range(min(block_index * q, n_params), min((block_index + 1) * q, n_params))


def theta_rows(Sigma, rows, alpha, tol):
    """Rows ``rows`` of the node-wise approximate inverse of ``Sigma``.

    Returns ``(rows_matrix (len(rows), p), usable (len(rows),) bool, sweeps)``;
    unusable (degenerate) rows are zero.
    """
    rows = np.asarray(list(rows), dtype=np.intp)
    if rows.shape[0] == 0:  # a block beyond the mosaic's rows forms none
        return np.zeros((0, Sigma.shape[0])), np.zeros(0, dtype=bool), 0
    gamma, tau2, sweeps = nodewise_lasso(Sigma, rows, alpha, tol=tol)
    out = -gamma
    out[np.arange(rows.shape[0]), rows] = 1.0
    scale = np.diag(Sigma)[rows]
    usable = (scale > 0) & (tau2 > DEGENERATE_TAU2 * np.maximum(scale, 1e-300))
    out[usable] /= tau2[usable, None]
    out[~usable] = 0.0
    return out, usable, sweeps


def _least_squares_sums(X, y, m, fit_intercept, xp) -> dict:
    """``X~^T M y`` and ``y^T M y`` (the gaussian identity dispersion needs them; the
    Gram ``X~^T M X~`` is the local fit's information)."""
    my = y if m is None else m * y
    return {"xy": design_t_vec(X, my, fit_intercept, xp), "yy": float(xp.sum(my * y))}


def identified_columns(Sigma, fit_intercept: bool) -> np.ndarray:
    """Which parameters the block's data can inform: False for a column that is
    constant within the block (zero weighted variance about the intercept; zero
    throughout when there is no intercept), e.g. a dummy that never switches on there.
    """
    d = np.diag(Sigma).copy()
    v = d.copy()
    if fit_intercept and d[0] > 0:
        v[1:] = d[1:] - Sigma[0, 1:] ** 2 / d[0]
    return (d > 0) & (v > CONSTANT_COLUMN * d)


def debiased_lasso_block(X, y, m, *, family, spec: LassoSpec, block_index, offset=None):
    """Round 1 on one block: local fit and the pieces of the chosen join (module doc).

    ``offset`` (added to the linear predictor) enters the local fits, their gradient and
    information, the separation check and the least-squares sums (of ``y - offset``).

    Returns the block's record (``blocks``) and its sums filed under its size class;
    a block too small for its fit, or whose local estimate does not exist, files no
    sums and says why in its record.
    """
    xp = get_namespace(X)
    n = int(X.shape[0])
    record = {"index": block_index, "n": n}
    problems = check_block(X, y, m, family=family)
    if problems:
        return {"n": n, "problems": Problems.at(block_index, problems), "blocks": [record]}
    n_pos = n if m is None else int(xp.sum(xp.astype(m > 0, m.dtype)))
    record["n_pos"] = n_pos
    if n_pos < spec.min_rows:
        record["too_few_rows"] = True
        return {"n": n, "blocks": [record]}
    cls = block_key(n_pos, spec.l1.shape[0])
    Xf = X
    if spec.standardize:   # the block's own standard deviations (module docstring)
        sd = _column_sd(X, m, xp)
        Xf = X / xp.asarray(sd, dtype=X.dtype)[None, :]
    if spec.method == "naive_unregularized":
        sums = _mle_sums(Xf, y, m, family, spec, record, xp, offset)
    else:
        sums = _enet_sums(Xf, y, m, family, spec, record, block_index, xp, check=cls == BIG,
                          offset=offset)
    if spec.standardize:
        d = np.concatenate([[1.0], sd]) if spec.fit_intercept else sd
        sums = _unstandardize(sums, d)
    if spec.sufficient_stats and "yy" in sums:  # the gaussian log-likelihood's closed form
        sums["log_weight"] = log_weight_sum(m, xp)
    counts = (recession_counts(X, y, m, family, spec.fit_intercept, spec.reference_groups)
              if n_pos else None)
    if counts is not None:
        sums["recession"] = counts
    return {"n": n, "blocks": [record],
            **{f"{key}{CLASS_SEP}{cls}": value for key, value in sums.items()}}


# how each block sum transforms back from the coordinates of the standardised columns
# (coefficients ``D beta``, D = diag(sd)): ``x -> x * d**power`` (vectors) or
# ``A -> A * outer(d, d)**power`` (matrices)
_BACK = {"theta_sum": -1, "grad_sum": 1, "xy": 1, "separation_sd": 1, "gram_sum": 1,
         "sigma_sum": 1, "score_var": 1, "rank_deficient_gram": 1, "inv_info_sum": -1,
         "theta_rows": -1}


def _unstandardize(sums: dict, d: np.ndarray) -> dict:
    """A block's sums from the standardised columns ``X / sd`` back on the columns'
    own scale (``d = [1, *sd]`` with an intercept); files ``sd_sum`` for the master."""
    out = dict(sums)
    for key, power in _BACK.items():
        if key in out and power:
            a = np.asarray(out[key], dtype=np.float64)
            out[key] = a * (d ** power if a.ndim == 1 else np.outer(d, d) ** power)
    if "n_used" in out:
        out["sd_sum"] = d
    return out


def _mle_sums(X, y, m, family, spec, record, xp, offset=None) -> dict:
    """The local maximum likelihood pieces (``method="naive_unregularized"``)."""
    P = spec.l1.shape[0]
    fi = spec.fit_intercept
    fit = fit_local(X, y, m, family, fit_intercept=fi, tol=spec.tol, max_iter=spec.max_iter,
                    offset=offset)
    record.update(n_iter=fit.n_iter, converged=fit.converged)
    if not fit.mle_exists:
        record["diverged"] = fit.message
        return {}
    if fit.rank < P:
        record["excluded"] = ("the block's information matrix is singular (a column is "
                              "constant or collinear within the block)")
        return {"rank_deficient_gram": fit.information}
    out = {"theta_sum": fit.theta, "inv_info_sum": PSDFactor(fit.information).inverse(),
           "gram_sum": fit.information, "n_used": 1, "n_pos": record["n_pos"]}
    if spec.sufficient_stats:
        out.update(_least_squares_sums(X, y if offset is None else y - offset, m, fi, xp))
    return out


def _enet_sums(X, y, m, family, spec, record, block_index, xp, check=False,
               offset=None) -> dict:
    """The penalised local fit and its node-wise rows (``"debiased"``, ``"naive"``).

    With ``check`` (a block of at least 20 rows per parameter) and a family whose
    estimates can run off to infinity, the block also checks whether its unpenalised
    local MLE exists (:func:`_separation_check`).
    """
    P = spec.l1.shape[0]
    fi = spec.fit_intercept
    fit = fit_local_enet(X, y, m, family, spec.l1, spec.l2, fit_intercept=fi, tol=spec.tol,
                         max_iter=spec.max_iter, offset=offset, xp=xp)
    record.update(n_iter=fit.n_iter, converged=fit.converged)
    if not fit.exists:
        record["diverged"] = fit.message
        if fit.constant_y is not None:
            record["constant_y"] = fit.constant_y
        return {}
    S = fit.weight_sum
    Sigma = fit.information / S
    ident = identified_columns(Sigma, fi)
    out = {"theta_sum": fit.theta, "gram_sum": fit.information, "weight_sum": S, "n_used": 1,
           "n_pos": record["n_pos"], "identified": ident.astype(np.float64)}
    if check:
        out.update(_separation_check(X, y, m, family, spec, fit, record, xp, offset))
    if spec.sufficient_stats:  # the least-squares fit has them already
        out.update(xy=fit.xy, yy=fit.yy)
    if not ident.all():
        record["constant_columns"] = np.flatnonzero(~ident).tolist()
    if spec.method == "naive":
        return out
    rows = (mosaic_rows(block_index, spec.n_blocks, P) if spec.nodewise == "mosaic"
            else range(P))
    part, usable, sweeps = theta_rows(Sigma, rows, spec.nodewise_alpha, spec.tol * 1e-3)
    theta = np.zeros((P, P))
    count = np.zeros(P)
    idx = np.asarray(list(rows), dtype=np.intp)
    theta[idx] = part
    count[idx] = usable
    record["nodewise_sweeps"] = sweeps
    if sweeps >= MAX_SWEEPS:
        record["nodewise_unconverged"] = True
    if not usable.all():
        record["degenerate_rows"] = idx[~usable].tolist()
    out.update(grad_sum=fit.gradient, theta_rows=theta, row_count=count, sigma_sum=Sigma,
               score_var=fit.information / (S * S))
    return out


def _separation_check(X, y, m, family, spec, fit, record, xp, offset=None) -> dict:
    """Does the block's unpenalised local MLE exist? Its sums for the master.

    Only for families and links whose estimates can be infinite
    (``family.separable``). One Fisher scoring step
    from the penalised estimate (from the score and information the block has
    already) usually settles it (:func:`_settles`: three matrix-vector products);
    otherwise the local maximum likelihood fit runs from that point. When it
    diverges, the block records the parameters it diverged along (``separated``:
    ``[j, sign]``) and files its last scoring step in standardised units (the columns'
    standard deviations within the block), scaled to a largest component of 1, with
    those standard deviations: their sums over the blocks give the master a direction
    to probe (:func:`separation_direction`).
    """
    if not family.separable:
        return {}
    fi = spec.fit_intercept
    information = PSDFactor(fit.information)  # factored once for both scoring steps
    start = _one_step(fit, spec, information)
    out = {"ml_checked": 1}
    if _settles(X, y, m, family, information, start, fi, xp, offset):
        return out
    ml = fit_local(X, y, m, family, fit_intercept=fi, tol=spec.tol, max_iter=spec.max_iter,
                   theta0=start, offset=offset)
    if ml.mle_exists or ml.divergence is None or not np.any(ml.divergence):
        return out
    sd = _column_sd(X, m, xp)
    if fi:
        sd = np.concatenate([[1.0], sd])
    u = ml.divergence * sd
    u = u / np.max(np.abs(u))
    u[np.abs(u) < MATERIAL_SHARE] = 0.0
    record["separated"] = [[int(j), int(np.sign(u[j]))] for j in np.flatnonzero(u)]
    out.update(ml_separated=1, separation_u=u, separation_sd=sd)
    return out


def _one_step(fit, spec, information: PSDFactor) -> np.ndarray:
    """One unpenalised Fisher scoring step from the penalised estimate (no pass over the
    rows: the fit's gradient and ``information`` (factored) are at that estimate); the
    penalised estimate itself where the step is not finite."""
    score = -(fit.gradient - spec.l2 * fit.theta) * fit.weight_sum
    start = fit.theta + information.solve(score)
    return start if np.all(np.isfinite(start)) else fit.theta


def _settles(X, y, m, family, information, start, fit_intercept, xp, offset=None) -> bool:
    """Whether the unpenalised local MLE evidently exists, at the cost of three
    matrix-vector products: a second scoring step from ``start`` (the score there, the
    ``information`` at the penalised estimate, factored) moves no row's linear predictor
    by more than ``SETTLED_ETA``.

    Only for the canonical logit and log links. The third derivative of their unit
    log-likelihoods is bounded by the second, so along a separating direction the
    ratio of score to information stays of order 1 in units of the linear predictor:
    the steps of a diverging fit do not shrink below about 1 there (measured from
    such a start: 1 to 78 on separated blocks; 6e-5 to 0.05 on blocks whose MLE exists
    with 20 rows per parameter or more, rare events up to 0.5, which then run the full
    fit). Probit and cloglog fits slow down as they run off (their score underflows),
    so they always run the full fit.
    """
    if not family.has_canonical_link:
        return False
    eta = linear_predictor(X, start, fit_intercept, xp, offset)
    r = block_terms(family, y, m, eta).score_residuals
    step = information.solve(design_t_vec(X, r, fit_intercept, xp))
    if not np.all(np.isfinite(step)):
        return False
    move = xp.abs(linear_predictor(X, step, fit_intercept, xp))
    if m is not None:  # rows of weight 0 do not count
        move = xp.where(m > 0, move, xp.zeros_like(move))
    return float(xp.max(move)) <= SETTLED_ETA


def _column_sd(X, m, xp) -> np.ndarray:
    """Weighted standard deviation of every column within the block (1 where 0)."""
    w = xp.ones((X.shape[0],), dtype=X.dtype) if m is None else m
    S = float(xp.sum(w))
    mean = to_host(xp.sum(X * w[:, None], axis=0)) / S
    sq = to_host(xp.sum(X * X * w[:, None], axis=0)) / S
    sd = np.sqrt(np.clip(sq - mean * mean, 0.0, None))
    return np.where(sd > 1e-12 * np.sqrt(np.maximum(sq, 1e-300)), sd, 1.0)


def separation_direction(s: dict) -> np.ndarray | None:
    """The direction to probe, in the parameters' own units: the mean over the
    separated blocks of their standardised divergence (components below
    ``MATERIAL_SHARE`` of the largest dropped), divided by the mean standard
    deviations; None when no block diverged."""
    k = s.get("ml_separated", 0)
    if not k:
        return None
    u = s["separation_u"] / k
    u[np.abs(u) < MATERIAL_SHARE * np.max(np.abs(u))] = 0.0
    return u / (s["separation_sd"] / k)


def separation_probe_block(X, y, m, theta, direction, steps, *, family, fit_intercept,
                           skip=(), block_index, offset=None):
    """One probe round on a block (:func:`dask_glmdist.solvers.recession.recession_block`:
    the deviance at ``theta + t direction`` and the Gram of the rows it leaves
    unchanged) plus the block's whole Gram ``X~^T M X~`` (intercept border first), by
    which :func:`~dask_glmdist.solvers.recession.classify_runaway` scales. Blocks
    in ``skip`` (left out of the estimate) contribute nothing."""
    if block_index in skip:
        return {}
    out = recession_block(X, y, m, theta, direction, steps, family=family,
                          fit_intercept=fit_intercept, block_index=block_index, offset=offset)
    xp = get_namespace(X)
    w = xp.ones_like(y) if m is None else m
    out["full_gram"] = score_and_information(X, xp.zeros_like(w), w, True, xp)[1]
    return out


@dataclass
class Joined:
    """The master's result of the round (host NumPy)."""

    params: np.ndarray                  # before thresholding
    cov_unscaled: np.ndarray | None     # multiply by the dispersion
    theta: np.ndarray | None            # the approximate inverse used for debiasing
    mean_params: np.ndarray             # the average of the local estimates
    pooled_rows: list                   # node-wise rows recomputed from the pooled Gram
    n_used: int


def join(s: dict, spec: LassoSpec, names: list[str]) -> Joined:
    """Combine the used blocks' sums into the estimate (module docstring)."""
    n_used = int(s["n_used"])
    if spec.method == "naive_unregularized":
        mean = s["theta_sum"] / n_used
        return Joined(mean, s["inv_info_sum"] / n_used**2, None, mean, [], n_used)
    # a coefficient is averaged over the blocks whose data inform it (a block where
    # its column is constant has coefficient and gradient 0 there: no information)
    count = s["identified"]
    if np.any(count == 0):
        raise ValueError(
            f"Columns {[names[j] for j in np.flatnonzero(count == 0)]} are constant within "
            "every row block used (e.g. constant or all zero): the blocks carry no "
            "information on their coefficients. Remove them."
        )
    mean = s["theta_sum"] / count
    if spec.method == "naive":
        return Joined(mean, None, None, mean, [], n_used)
    P = mean.shape[0]
    rows = s["row_count"]
    theta = np.zeros((P, P))
    ok = rows > 0
    theta[ok] = s["theta_rows"][ok] / rows[ok, None]
    # rows formed in blocks go with gradients averaged over the informing blocks;
    # written for the plain mean of the gradients they are Theta diag(K / count)
    theta_plain = theta * (n_used / count)[None, :]
    pooled = np.flatnonzero(~ok).tolist()
    if pooled:  # no block formed these rows: invert the blocks' mean Sigma
        Sigma = s["sigma_sum"] / n_used
        d = s["sd_sum"] / n_used if spec.standardize else np.ones(P)  # mean block sds
        part, usable, _ = theta_rows(Sigma / np.outer(d, d), pooled, spec.nodewise_alpha,
                                     spec.tol * 1e-3)
        part = part / np.outer(d[pooled], d)
        if not usable.all():
            bad = [names[j] for j in np.asarray(pooled)[~usable]]
            raise ValueError(
                f"Parameters {bad} are (nearly) collinear with the other columns in the "
                "pooled data: the node-wise regression that debiases them has no "
                "residual variance. Remove the redundant columns."
            )
        theta[pooled] = part
        theta_plain[pooled] = part
    params = mean - theta_plain @ (s["grad_sum"] / n_used)
    cov = theta_plain @ (s["score_var"] / n_used**2) @ theta_plain.T
    return Joined(params, 0.5 * (cov + cov.T), theta, mean, pooled, n_used)


def pearson_block(X, y, m, params, *, family, fit_intercept, skip=(), block_index,
                  offset=None):
    """Pearson chi^2 ``sum m (y - mu)^2 / V(mu)`` of one block at ``params`` (0 for the
    blocks in ``skip``, those left out of the estimate)."""
    if block_index in skip:
        return {"pearson": 0.0}
    xp = get_namespace(X)
    eta = linear_predictor(X, params, fit_intercept, xp, offset)
    if not bool(xp.all(family.valid_eta(eta))):
        return {"problems": Problems.at(block_index, {"invalid_mean": 1})}
    return {"pearson": block_terms(family, y, m, eta).pearson(xp)}
