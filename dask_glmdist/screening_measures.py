"""The mathematics of one-round feature screening: per-block components and their ``g``.

Each screening measure of the DLSA paper's section 4.2 (after Li et al. 2020, "Distributed
feature screening via componentwise debiasing") is written as ``omega_j = g(nu_j1, ...,
nu_js)``, a smooth function of a few *component parameters*. Every row block estimates
the components of every feature from its own rows (moments, or U-statistics over the
block's pairs and triples of distinct rows); the client averages each component over the
blocks (weights ``n_k / N``) and applies ``g``. A block sends O(p) numbers.

The block functions here work on one block in memory: ``X`` (n x p float), ``y`` (n,).
Pairwise sums are never formed as n x n matrices: sums over pairs come from sorting
(row sums of ``|x_i - x_l|``), scipy's merge-sort Kendall tau, and a divide-and-conquer
over the bits of ranks (:func:`ranked_pair_sum`, the sums over pairs ``l < i`` with a
smaller rank), so a block costs O(n log n) per feature and memory O(n) per feature
(features in chunks).
"""

from __future__ import annotations

import numpy as np

__all__ = ["MEASURES", "MIN_ROWS", "block_components", "combine_components",
           "ranked_pair_sum"]

MEASURES = ("pearson", "kendall", "sirs", "dc")
# rows a block needs for its U-statistics (pairs, triples of distinct rows)
MIN_ROWS = {"pearson": 1, "kendall": 2, "sirs": 3, "dc": 3}
# elements of the working arrays of one feature chunk (about 8 bytes each, a few arrays)
_CHUNK_ELEMENTS = 2_000_000


# --------------------------------------------------------------------------------------
# sums over pairs by ranks
# --------------------------------------------------------------------------------------


def ranked_pair_sum(R: np.ndarray, bases=(), terms=None) -> np.ndarray:
    """Per column j: the sum over pairs ``l < i`` with ``R[l, j] < R[i, j]`` of
    ``sum_q U_q[i, j] V_q[l, j]``, where ``(V, U) = terms(*bases)`` (lists of n x p
    arrays computed from the n x p arrays ``bases``; None in V or U stands for ones;
    ``terms=None``: the number of such pairs).

    Divide and conquer over the bits of the ranks (non-negative integers), from the
    highest: a pair ``l < i`` with ``R_l < R_i`` is counted once, at the highest bit
    where the ranks differ (``l`` has 0 there, ``i`` has 1). The rows are kept grouped
    by the bits above the current one, in their original order within a group (a stable
    partition per level, moving ``R`` and the bases), so each level is a few passes of
    cumulative sums: O(n p log n) time, no n x n array. Equal ranks are never counted.
    """
    n, p = R.shape
    total = np.zeros(p)
    if n < 2:
        return total
    pos = np.arange(n)[:, None]
    Rs = R.astype(np.int64, copy=True)
    Bs = [np.array(b, dtype=np.float64, copy=True) for b in bases]
    zeros_row = np.zeros((1, p))
    for b in range(int(max(int(R.max()), 1)).bit_length() - 1, -1, -1):
        prefix = Rs >> (b + 1)
        zero = ((Rs >> b) & 1) == 0
        start = np.ones((n, p), bool)
        start[1:] = prefix[1:] != prefix[:-1]
        gstart = np.maximum.accumulate(np.where(start, pos, 0), axis=0)
        V, U = terms(*Bs) if terms is not None else ([None], [None])
        for v, u in zip(V, U, strict=True):
            # sums of v over the zero-bit rows before each row of its group
            w = zero if v is None else v * zero
            cs = np.concatenate([zeros_row, np.cumsum(w, axis=0, dtype=np.float64)])
            got = np.where(zero, 0.0, cs[1:] - np.take_along_axis(cs, gstart, axis=0))
            total += got.sum(axis=0) if u is None else (u * got).sum(axis=0)
        if b == 0:
            break
        # stable partition of every group by the bit: zeros first
        cz = np.concatenate([np.zeros((1, p), np.int64), np.cumsum(zero, axis=0)])
        end = np.ones((n, p), bool)
        end[:-1] = start[1:]
        gend = n - np.maximum.accumulate(np.where(end[::-1], pos, 0), axis=0)[::-1]
        first = np.take_along_axis(cz, gstart, axis=0)
        zeros_before = cz[:-1] - first
        zeros_in = np.take_along_axis(cz, gend, axis=0) - first
        new = np.where(zero, gstart + zeros_before,
                       gstart + zeros_in + (pos - gstart - zeros_before))
        for arr in (Rs, *Bs):
            moved = np.empty_like(arr)
            np.put_along_axis(moved, new, arr, axis=0)
            arr[...] = moved
    return total


def _dense_ranks(x: np.ndarray):
    """Per column: the order sorting it, and dense ranks (equal values, equal rank)."""
    order = np.argsort(x, axis=0, kind="stable")
    xs = np.take_along_axis(x, order, axis=0)
    new = np.ones(xs.shape, bool)
    new[1:] = xs[1:] != xs[:-1]
    dense_sorted = np.cumsum(new, axis=0) - 1
    dense = np.empty_like(dense_sorted)
    np.put_along_axis(dense, order, dense_sorted, axis=0)
    return order, xs, dense, new


def _tied_pairs(new_run: np.ndarray) -> np.ndarray:
    """Pairs within runs of equal values, per column, given where each run starts."""
    pos = np.arange(new_run.shape[0])[:, None]
    start = np.maximum.accumulate(np.where(new_run, pos, 0), axis=0)
    return (pos - start).sum(axis=0).astype(np.float64)


def _abs_dev_rowsums(x: np.ndarray) -> np.ndarray:
    """``a[i, j] = sum_l |x[i, j] - x[l, j]|`` by sorting each column (O(n log n))."""
    n = x.shape[0]
    order = np.argsort(x, axis=0, kind="stable")
    xs = np.take_along_axis(x, order, axis=0)
    ce = np.cumsum(xs, axis=0) - xs  # sums of the smaller ones
    r = np.arange(n)[:, None]
    a_sorted = xs * (2 * r - n) - 2 * ce + xs.sum(axis=0)
    a = np.empty_like(a_sorted)
    np.put_along_axis(a, order, a_sorted, axis=0)
    return a


def _chunks(n: int, p: int, m: int):
    width = max(1, _CHUNK_ELEMENTS // max(1, n * m))
    for j in range(0, p, width):
        yield slice(j, min(p, j + width))


# --------------------------------------------------------------------------------------
# the components of one block
# --------------------------------------------------------------------------------------


def _pearson(X, y):
    """Sums about the block's means ``hx``, ``hy``: ``sx = sum(x - hx)`` (the rounding
    left in the mean), ``sxx``, ``syy``, ``sxy``; combined exactly on the client."""
    n, p = X.shape
    hy = y.mean()
    yc = y - hy
    out = {"hy": np.float64(hy), "sy": np.float64(yc.sum()), "syy": np.float64(yc @ yc)}
    for name in ("hx", "sx", "sxx", "sxy"):
        out[name] = np.empty(p)
    for cols in _chunks(n, p, 2):
        x = X[:, cols]
        out["hx"][cols] = hx = x.mean(axis=0)
        xc = x - hx
        out["sx"][cols] = xc.sum(axis=0)
        out["sxx"][cols] = np.einsum("ij,ij->j", xc, xc)
        out["sxy"][cols] = yc @ xc
    return out


def _kendall(X, y):
    """``tau`` of the block: the U-statistic mean of ``sign(dx) sign(dy)`` over its pairs.

    Per feature, scipy's ``kendalltau`` (a compiled O(n log n) merge sort) gives tau-b
    ``S / sqrt((n0 - tx)(n0 - ty))``; the pair counts ``n0`` and the tied pairs ``tx``,
    ``ty`` give back ``S``, the concordant minus the discordant pairs (0 when x or y is
    constant in the block).
    """
    from scipy.stats import kendalltau

    n, p = X.shape
    pairs = n * (n - 1) / 2
    ty = _tied_pairs(_dense_ranks(y[:, None])[3])[0]
    tau = np.empty(p)
    for cols in _chunks(n, p, 2):
        tx = _tied_pairs(_dense_ranks(X[:, cols])[3])
        for j, t in zip(range(cols.start, cols.stop), tx, strict=True):
            tb = kendalltau(X[:, j], y).statistic
            tau[j] = 0.0 if np.isnan(tb) else tb * np.sqrt((pairs - t) * (pairs - ty)) / pairs
    return {"tau": tau}


def _sirs(X, y):
    """SIRS components over triples ``(i, m, l)`` of distinct rows of the block.

    With ``I_il = 1(y_i < y_l)``: ``u1 = E[x_i x_m I_il I_ml]`` of x centred at the
    block mean ``mx``, and ``sxx`` (the centred squares).
    """
    n, p = X.shape
    order = np.argsort(y, kind="stable")
    ys = y[order]
    c = np.searchsorted(ys, ys, side="left")  # rows with a strictly smaller y
    triples = n * (n - 1) * (n - 2)
    out = {}
    for name in ("mx", "sxx", "u1"):
        out[name] = np.empty(p)
    for cols in _chunks(n, p, 4):
        x = X[order, cols]
        out["mx"][cols] = mx = x.mean(axis=0)
        x -= mx
        zero = np.zeros((1, x.shape[1]))
        S = np.concatenate([zero, np.cumsum(x, axis=0)])[c]
        x *= x
        out["sxx"][cols] = x.sum(axis=0)
        Q = np.concatenate([zero, np.cumsum(x, axis=0)])[c]
        out["u1"][cols] = (S * S - Q).sum(axis=0) / triples
    return out


def _dc_terms(x, y):
    """(V, U) of the cross term: ``(x_i - x_l)(y_i - y_l) = sum_q U_q[i] V_q[l]``."""
    return [None, y, x, x * y], [x * y, -x, -y, None]


def _dc(X, y):
    """The eight distance-correlation components of the paper, as U-statistics.

    Sums over ordered pairs ``i != l`` of ``a_il = |x_i - x_l|`` and ``b_il = |y_i -
    y_l|`` and over triples of distinct rows; the one sum that mixes x and y,
    ``sum a_il b_il``, from the rows in y order: ``sum_{l<i} s_il (x_i - x_l)(y_i - y_l)``
    with ``s_il = +1`` when ``x_l <= x_i`` (:func:`ranked_pair_sum`), else ``-1``.
    """
    n, p = X.shape
    order = np.argsort(y, kind="stable")
    ys = y[order] - y.mean()
    Xs = X[order] - X.mean(axis=0)
    pairs, triples = n * (n - 1), n * (n - 1) * (n - 2)
    b = _abs_dev_rowsums(ys[:, None])[:, 0]
    sbb = 2 * n * (ys @ ys) - 2 * ys.sum() ** 2
    out = {"nu2": np.float64(b.sum() / pairs), "nu5": np.float64(sbb / pairs),
           "nu6": np.float64((b @ b - sbb) / triples)}
    for name in ("nu1", "nu3", "nu4", "nu7", "nu8"):
        out[name] = np.empty(p)
    for cols in _chunks(n, p, 12):
        x = Xs[:, cols]
        a = _abs_dev_rowsums(x)
        R = np.argsort(np.argsort(x, axis=0, kind="stable"), axis=0)
        yy = np.broadcast_to(ys[:, None], x.shape)
        # sum_{l<i} s_il (x_i y_i - x_i y_l - y_i x_l + x_l y_l), s_il = 2 1(R_l < R_i) - 1
        ranked = ranked_pair_sum(R, (x, yy), _dc_terms)
        V, U = _dc_terms(x, yy)
        every = 0.0  # the same sum over every pair l < i
        for v, u in zip(V, U, strict=True):
            before = np.arange(n)[:, None] if v is None else np.cumsum(v, axis=0) - v
            every = every + (before if u is None else u * before).sum(axis=0)
        sab = 2 * (2 * ranked - every)
        saa = 2 * n * (x * x).sum(axis=0) - 2 * x.sum(axis=0) ** 2
        out["nu1"][cols] = sab / pairs
        out["nu3"][cols] = a.sum(axis=0) / pairs
        out["nu4"][cols] = (b @ a - sab) / triples
        out["nu7"][cols] = saa / pairs
        out["nu8"][cols] = ((a * a).sum(axis=0) - saa) / triples
    return out


_BLOCK = {"pearson": _pearson, "kendall": _kendall, "sirs": _sirs, "dc": _dc}


def block_components(X: np.ndarray, y: np.ndarray, method: str) -> dict:
    """The components of ``method`` estimated from one block's rows (a dict of O(p)
    arrays and scalars)."""
    return _BLOCK[method](np.asarray(X, np.float64), np.asarray(y, np.float64))


# --------------------------------------------------------------------------------------
# the client: average the components, apply g
# --------------------------------------------------------------------------------------


def _mean(records, name):
    n = sum(r["n"] for r in records)
    return sum((r["n"] / n) * r["parts"][name] for r in records)


def _g_pearson(records):
    """The blocks' sums moved to the global means (Chan et al.'s pairwise update, with
    each block's shift and the rounding left in it): the correlation of all the rows."""
    n = sum(r["n"] for r in records)
    ref = records[0]["parts"]
    # mean of each block about the first block's shift (differences of nearby numbers)
    ex = [(r["parts"]["hx"] - ref["hx"]) + r["parts"]["sx"] / r["n"] for r in records]
    ey = [(r["parts"]["hy"] - ref["hy"]) + r["parts"]["sy"] / r["n"] for r in records]
    mx = sum(r["n"] * e for r, e in zip(records, ex, strict=True)) / n
    my = sum(r["n"] * e for r, e in zip(records, ey, strict=True)) / n
    sxx = syy = sxy = 0.0
    for r in records:
        c, k = r["parts"], r["n"]
        dx = (c["hx"] - ref["hx"]) - mx  # the block's shift minus the global mean
        dy = (c["hy"] - ref["hy"]) - my
        sxx = sxx + c["sxx"] + 2 * dx * c["sx"] + k * dx * dx
        syy = syy + c["syy"] + 2 * dy * c["sy"] + k * dy * dy
        sxy = sxy + c["sxy"] + dx * c["sy"] + dy * c["sx"] + k * dx * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(sxy / np.sqrt(sxx * syy))


def _g_kendall(records):
    return np.abs(_mean(records, "tau"))


def _g_sirs(records):
    """``E_k[(x_i - mu_k)(x_m - mu_k) I_il I_ml] / var_within(x)`` averaged over the
    blocks: x centred at each block's own mean, scaled by the pooled within-block
    variance. Like Kendall's tau and distance correlation (whose pairs are rows of one
    block), it measures the dependence *within* blocks: a feature that only shifts from
    block to block (a month, a hospital) scores nothing, where centring at the global
    mean would score its shift, ``(mu_k - mu)^2 P(y_i < y_l, y_m < y_l)``, as dependence."""
    n = sum(r["n"] for r in records)
    num = _mean(records, "u1")
    sxx = sum(r["parts"]["sxx"] for r in records)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / (sxx / n)


def _g_dc(records):
    nu = {k: _mean(records, k) for k in ("nu1", "nu2", "nu3", "nu4", "nu5", "nu6", "nu7",
                                         "nu8")}
    cov = nu["nu1"] + nu["nu2"] * nu["nu3"] - 2 * nu["nu4"]
    var_y = nu["nu5"] + nu["nu2"] ** 2 - 2 * nu["nu6"]
    var_x = nu["nu7"] + nu["nu3"] ** 2 - 2 * nu["nu8"]
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / np.sqrt(var_y * var_x)


_G = {"pearson": _g_pearson, "kendall": _g_kendall, "sirs": _g_sirs, "dc": _g_dc}


def combine_components(records: list, method: str) -> np.ndarray:
    """``omega = g(mean of the blocks' components)``; ``records``: one dict per non-empty
    block, ``{"n": rows, "parts": block_components(...)}``, averaged with weights
    ``n_k / N``."""
    return np.asarray(_G[method](records), dtype=np.float64)
