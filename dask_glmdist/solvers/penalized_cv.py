"""Cross-validation over row blocks for the penalised GLM path: the block functions
(first-pass sums filed by fold, held-out deviance of every alpha at once) and the
fold sums (a fold's training sums are the total minus its own).

Used by :class:`~dask_glmdist.estimators.penalized_path.PenalizedGLMCV` and
:class:`~dask_glmdist.estimators.penalized_logistic_cv.PenalizedLogisticRegressionCV`.
"""

from __future__ import annotations

import numpy as np

from .._array import get_namespace, to_host
from ..diagnostics import short_list
from .glm_kernel import linear_predictor
from .pqn import DataSums, sums_block


def fold_sums_block(X, y, m, *, family, fit_intercept, fold_of, block_index, offset=None):
    """The block's first-pass sums, filed under its fold (dicts merge by addition).

    Under ``"fold_" + key``: an empty block's summary is ``{"n": 0, ...}``
    (``map_reduce`` skips it), which must not meet a per-fold dict.
    """
    s = sums_block(X, y, m, family=family, fit_intercept=fit_intercept, validate=True,
                   block_index=block_index, offset=offset)
    f = int(fold_of[block_index])
    if "problems" in s:
        return {"problems": s["problems"]}
    return {"fold_" + key: {f: s[key]} for key in ("n", "gram", "gy", "yy", "weight",
                                                   "n_pos", "recession") if key in s}


def heldout_block(X, y, m, thetas, *, family, fit_intercept, fold_of, block_index,
                  offset=None):
    """Deviance of the block under its fold's path (every alpha at once: one GEMM)."""
    xp = get_namespace(X)
    T = thetas[int(fold_of[block_index])]          # (n_alphas, k)
    E = linear_predictor(X, T.T, fit_intercept, xp, offset)
    ok = family.valid_eta(E)
    E = xp.where(ok, E, xp.zeros_like(E))
    mu = family.link.inverse(E)
    yt = xp.asarray(y, dtype=X.dtype)[:, None]
    ud = family.unit_deviance(yt, mu)
    if m is not None:
        mt = xp.asarray(m, dtype=X.dtype)[:, None]
        ud = xp.where(mt > 0, mt * ud, xp.zeros_like(ud))
    ud = xp.where(ok, ud, xp.zeros_like(ud) + np.inf)
    return {"deviance": {int(fold_of[block_index]): to_host(xp.sum(ud, axis=0))}}




def _fold_sums(s: dict, f: int, fold_of) -> DataSums:
    if f not in s.get("fold_n", {}) or not s["fold_weight"][f] > 0:
        blocks = short_list(np.flatnonzero(fold_of == f).tolist())
        raise ValueError(
            f"cross-validation fold {f} (row blocks {blocks}) has no rows with positive "
            "weight (its blocks are empty or all their sample weights are 0): nothing to "
            "validate on. Rechunk the dask input, or lower cv."
        )
    counts = s["fold_recession"][f] if "fold_recession" in s else None
    return DataSums(gram=s["fold_gram"][f], gy=s["fold_gy"][f], yy=float(s["fold_yy"][f]),
                    weight=float(s["fold_weight"][f]), n_obs=int(s["fold_n"][f]),
                    n_pos=int(s["fold_n_pos"][f]), recession=counts)


def _add_sums(parts) -> DataSums:
    counts = None if parts[0].recession is None else sum(p.recession for p in parts)
    return DataSums(gram=sum(p.gram for p in parts), gy=sum(p.gy for p in parts),
                    yy=sum(p.yy for p in parts), weight=sum(p.weight for p in parts),
                    n_obs=sum(p.n_obs for p in parts), n_pos=sum(p.n_pos for p in parts),
                    recession=counts)


def _minus(total: DataSums, part: DataSums) -> DataSums:
    counts = None if total.recession is None else total.recession - part.recession
    return DataSums(gram=total.gram - part.gram, gy=total.gy - part.gy,
                    yy=total.yy - part.yy, weight=total.weight - part.weight,
                    n_obs=total.n_obs - part.n_obs, n_pos=total.n_pos - part.n_pos,
                    recession=counts)
