"""Formulas and categorical columns on (dask) DataFrames: one design for every block.

A model written as a formula (Wilkinson syntax, parsed and encoded by ``formulaic``)
or a DataFrame with string, categorical or boolean columns is turned into a numeric
design matrix block by block, where the partitions live. What makes this hard at
scale is that **no partition sees every level of a categorical**: a carrier may fly
only in some months, and ``head()`` shows one file. So a fit first learns the
design, once, from all the data:

1. the formula is resolved against the frame's metadata: which columns it reads and
   which of them are categorical (string, categorical and object columns, and any
   column inside ``C(...)``); stateful transforms (``center``, ``scale``, splines),
   whose state would come from a sample, are refused;
2. the levels of the categorical columns are the union over *all* partitions: each
   partition reports the small set of values it holds, reduced in a tree, reading
   only those columns (:func:`collect_levels`);
3. a small prototype frame holding every level fixes formulaic's model spec
   (treatment coding, the first level as reference: the sorted first for strings and
   numbers as in R and statsmodels, the first category for a pandas categorical), so
   every block is encoded into the same columns whichever levels it holds.

Each block is then built by :func:`build_block`: rows with a missing value in a model
column are dropped or reported (``missing=``), a level the fit never saw is an error
naming the column and the level, and design, response, weights and offset come from
the same partition, so they are aligned by construction. The blocks of a fit are
the frame's partitions.

Parameter names are formulaic's (as statsmodels' formula API prints them):
``C(carrier)[T.UA]`` for ``C(carrier)``, ``carrier[T.UA]`` for a string column named
in the formula or met without a formula, ``x:C(m)[2]`` for interactions.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field

import dask
import numpy as np
import pandas as pd

__all__ = [
    "Design",
    "build_block",
    "collect_levels",
    "learn_design",
    "uses_design",
]

_MISSING_HINT = (
    "pass missing='drop' to drop those rows (as R's na.omit), or fill them in before fitting"
)


@dataclass
class Design:
    """What a fit learned about turning frame rows into design rows (a fitted attribute).

    Attributes
    ----------
    formula : str
        The right-hand side as formulaic resolved it (``"1 + C(carrier) + distance"``).
    response : str or None
        The left-hand side (a column name or an expression), or None when y is passed.
    column_names : list of str
        Names of the design's columns, the intercept excluded (the estimator fits it).
    has_intercept : bool
        Whether the formula has an intercept.
    variables : list of str
        The frame columns the right-hand side reads.
    response_variables : list of str
        The frame columns the left-hand side reads.
    levels : dict
        Categorical column -> its levels (every partition's, in coding order).
    from_formula : bool
        False when the design was made for a DataFrame given without a formula.
    """

    formula: str
    response: str | None
    column_names: list
    has_intercept: bool
    variables: list
    response_variables: list
    levels: dict
    from_formula: bool
    spec: object = field(repr=False)
    lhs_spec: object = field(default=None, repr=False)
    labels: list | None = None  # the response's values, when a classifier asked for them

    @property
    def n_columns(self) -> int:
        return len(self.column_names)


# --------------------------------------------------------------------------------------
# when a design is used
# --------------------------------------------------------------------------------------


def _is_frame(obj) -> bool:
    return getattr(obj, "ndim", None) == 2 and hasattr(obj, "columns") and hasattr(
        obj, "dtypes")


def _is_categorical_dtype(dtype) -> bool:
    """Columns encoded as levels: strings, objects and pandas categoricals (not bools)."""
    if isinstance(dtype, pd.CategoricalDtype):
        return True
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return False
    return pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype)


def uses_design(est, X, sample_weight=None, offset=None, groups=None) -> bool:
    """Whether ``fit``'s input goes through a design: a formula, a frame with
    categorical (string/categorical/object) columns, or weights/offset/groups named as
    columns."""
    if getattr(est, "formula", None) is not None:
        return True
    if not _is_frame(X):
        return False
    if any(isinstance(v, str) for v in (sample_weight, offset, groups)):
        return True
    return any(_is_categorical_dtype(t) for t in X.dtypes)


# --------------------------------------------------------------------------------------
# learning the design
# --------------------------------------------------------------------------------------


def _quote(name) -> str:
    return "`" + str(name).replace("`", "\\`") + "`"


def _refuse_unencodable(frame) -> None:
    """Columns that are neither numbers, booleans nor levels (datetimes, intervals...)
    are named, as for numeric input, before anything is read."""
    bad = {str(c): str(t) for c, t in frame.dtypes.items() if not (
        pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t)
        or _is_categorical_dtype(t))}
    if bad:
        kinds = sorted(set(bad.values()))
        raise ValueError(
            f"X has non-numeric columns {list(bad)[:10]} (dtype{'s' * (len(kinds) > 1)} "
            f"{', '.join(kinds)}) that are not categories either; encode them as numbers "
            "(e.g. a number for dates) before fitting, or name what to use in a formula."
        )


def _split_formula(formula: str):
    """``(response text or None, right-hand side)``; the right-hand side stays formulaic's
    object (its text drops a removed intercept: ``str`` of ``0 + x`` is ``x``)."""
    from formulaic import Formula

    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string such as 'y ~ x + C(g)'; got {formula!r}")
    try:
        parsed = Formula(formula)
    except Exception as exc:  # formulaic's syntax errors
        raise ValueError(f"Cannot parse the formula {formula!r}: {exc}") from exc
    if hasattr(parsed, "lhs"):
        return str(parsed.lhs), parsed.rhs
    return None, parsed


def _meta_of(frame) -> pd.DataFrame:
    """A one-row pandas frame with the columns and dtypes of ``frame`` (no data read)."""
    from dask.dataframe.utils import meta_nonempty

    empty = frame._meta if dask.is_dask_collection(frame) else frame.iloc[:0]
    return meta_nonempty(empty).iloc[:1].reset_index(drop=True)


def _as_levels(frame: pd.DataFrame, levels: dict) -> pd.DataFrame:
    """``frame`` with the categorical columns holding their fitted levels (formulaic
    then encodes them into the same columns whatever this frame holds)."""
    out = frame.copy(deep=False)
    for name, lev in levels.items():
        col = out[name]
        if _is_categorical_dtype(col.dtype):
            if isinstance(col.dtype, pd.CategoricalDtype):
                out[name] = col.cat.set_categories(lev)
            else:
                out[name] = _to_categorical(col, lev)
    return out


def _fill_missing_levels(frame: pd.DataFrame, levels: dict) -> pd.DataFrame:
    """Missing values of the categorical columns set to their first level.

    Only rows that are NaN in the result anyway reach the encoder with a missing level
    (``missing="keep"``: ``build_block`` blanks them afterwards); filled, they do not
    make formulaic warn (a ``DataMismatchWarning`` per block)."""
    for name, lev in levels.items():
        col = frame[name]
        if lev and isinstance(col.dtype, pd.CategoricalDtype) and col.isna().any():
            frame[name] = col.fillna(lev[0])
    return frame


def _to_categorical(col: pd.Series, lev: list) -> pd.Categorical:
    """``col.astype(CategoricalDtype(lev))`` (a value outside ``lev`` becomes missing),
    by codes: the block's few distinct values are found once (``factorize``) and
    matched to the levels, instead of matching every row's string to them."""
    dtype = pd.CategoricalDtype(lev)
    codes, uniques = pd.factorize(col)
    lookup = np.append(dtype.categories.get_indexer(uniques), -1)  # code -1 (missing) -> -1
    return pd.Categorical.from_codes(lookup[codes], dtype=dtype)


def _model_spec(rhs: str, frame: pd.DataFrame):
    from formulaic import model_matrix

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model_matrix(rhs, frame, na_action="ignore").model_spec


def _resolve(side: str, meta: pd.DataFrame, frame):
    """formulaic's spec of one side on the metadata; an unknown name is an error naming it
    and the frame's columns (before any pass over the data)."""
    try:
        return _model_spec(side, meta)
    except Exception as exc:  # formulaic's own errors (syntax, unknown names) included
        raise ValueError(
            f"Cannot evaluate '{side}' on the frame: {exc}. The frame's columns: "
            f"{[str(c) for c in frame.columns][:30]}."
        ) from exc


def _refuse_stateful(spec, formula: str) -> None:
    state = getattr(spec, "transform_state", None) or {}
    if state:
        raise ValueError(
            f"The formula '{formula}' uses stateful transform(s) {sorted(state)}, whose "
            "state (a mean, a scale, knots) would come from a sample of the data rather "
            "than from all of it; they are not supported. Compute the transformed column "
            "before fitting (e.g. with dask), or use standardize=True where the estimator "
            "has it."
        )


def _categorical_variables(spec, variables, meta: pd.DataFrame) -> list[str]:
    """Data columns whose values are levels: categorical dtypes, and any inside ``C()``."""
    cat = [v for v in variables if _is_categorical_dtype(meta[v].dtype)]
    for factor, (kind, _state) in (getattr(spec, "encoder_state", None) or {}).items():
        if getattr(kind, "value", str(kind)) != "categorical":
            continue
        for v in variables:
            if v not in cat and re.search(rf"(?<![\w.]){re.escape(v)}(?!\w)", str(factor)):
                cat.append(v)
    return [v for v in variables if v in cat]


def _levels_of_partition(part: pd.DataFrame, columns: list) -> dict:
    """``{column: (values present, category order or None)}`` of one partition."""
    out = {}
    for c in columns:
        col = part[c]
        order = None
        if isinstance(col.dtype, pd.CategoricalDtype):
            order = tuple(col.cat.categories.tolist())
        out[c] = (set(col.dropna().unique().tolist()), {order} if order is not None else set())
    return out


def _union_levels(*parts: dict) -> dict:
    out: dict = {}
    for p in parts:
        for c, (values, orders) in p.items():
            seen, known = out.setdefault(c, (set(), set()))
            seen.update(values)
            known.update(orders)
    return out


def collect_levels(frame, columns: list, split_every: int = 8):
    """``({column: set of values}, {column: set of category orders})`` over every
    partition of ``frame`` (pandas or dask); the orders are those of pandas
    categorical columns (a Parquet dictionary column read with unknown categories).

    For a dask frame: one light pass that reads only ``columns`` (column projection),
    each partition's sets reduced in a tree; nothing else reaches the client.
    """
    if not columns:
        return {}, {}
    if not dask.is_dask_collection(frame):
        merged = _levels_of_partition(frame, columns)
    else:
        from ._blocks import compute_reduced, frame_partitions

        parts = [dask.delayed(_levels_of_partition, pure=True)(p, columns)
                 for p in frame_partitions(frame[columns])]
        while len(parts) > 1:
            parts = [dask.delayed(_union_levels, pure=True)(*parts[i:i + split_every])
                     for i in range(0, len(parts), split_every)]
        merged = compute_reduced(parts[0])[0]
    return {c: v for c, (v, _) in merged.items()}, {c: o for c, (_, o) in merged.items()}


def _ordered_levels(values: set, dtype, orders: set) -> list:
    """Coding order: a pandas categorical's own (known in the metadata, or the one every
    partition reports), observed levels only; else sorted, as R and statsmodels do."""
    if isinstance(dtype, pd.CategoricalDtype):
        from dask.dataframe.utils import UNKNOWN_CATEGORIES

        if UNKNOWN_CATEGORIES not in dtype.categories:
            return [c for c in dtype.categories if c in values]
        if len(orders) == 1:
            return [c for c in next(iter(orders)) if c in values]
    try:
        return sorted(values)
    except TypeError:  # mixed types: sort by their text
        return sorted(values, key=str)


def _prototype(meta: pd.DataFrame, variables: list, levels: dict) -> pd.DataFrame:
    """A small frame with every level of every categorical column (and the metadata's
    values elsewhere): formulaic learns the full coding from it."""
    n = max([2] + [len(v) for v in levels.values()])
    cols = {}
    for v in variables:
        if v in levels:
            lev = levels[v]
            values = [lev[i % len(lev)] for i in range(n)]
            if _is_categorical_dtype(meta[v].dtype):
                cols[v] = pd.Categorical(values, categories=lev)
            else:
                cols[v] = pd.Series(values, dtype=meta[v].dtype)
        else:
            cols[v] = pd.Series([meta[v].iloc[0]] * n, dtype=meta[v].dtype)
    return pd.DataFrame(cols)


def learn_design(frame, formula: str | None, *, fit_intercept: bool, y_given: bool,
                 split_every: int = 8, exclude=(), labels: bool = False) -> Design:
    """Resolve a formula (or a frame's own columns) against all of ``frame``'s data.

    For a dask frame this makes one light pass over the categorical columns only
    (their levels); nothing when there are none. Without a formula every column but
    those in ``exclude`` (the weights' and offset's columns) is a term. With
    ``labels=True`` (a classifier) the response column's values ride along in that pass
    (``Design.labels``), so the classes are known before the fit's first pass.
    """
    response, rhs = _sides(frame, formula, fit_intercept=fit_intercept, y_given=y_given,
                           exclude=exclude)
    meta = _meta_of(frame)
    meta_cat = _as_levels(meta, {c: list(dict.fromkeys(meta[c].dropna().tolist()))
                                 for c in meta.columns if _is_categorical_dtype(meta[c].dtype)})
    spec0 = _resolve(rhs, meta_cat, frame)
    _refuse_stateful(spec0, formula or rhs)
    variables = sorted(spec0.variables_by_source.get("data", set()),
                       key=list(frame.columns).index)
    label_column = response if labels and response in frame.columns else None
    levels, found = _all_levels(frame, _categorical_variables(spec0, variables, meta), meta,
                                split_every, label_column)
    spec = _model_spec(rhs, _as_levels(_prototype(meta, variables, levels), levels))
    names = [str(n) for n in spec.column_names]
    has_intercept = _intercept(names, formula, fit_intercept)
    lhs_spec, response_vars = _response_spec(response, meta_cat, frame)
    return Design(
        formula=formula if formula is not None else str(rhs),
        response=response,
        column_names=[n for n in names if n != "Intercept"],
        has_intercept=has_intercept,
        variables=variables,
        response_variables=response_vars,
        levels=levels,
        from_formula=formula is not None,
        spec=spec,
        lhs_spec=lhs_spec,
        labels=found,
    )


def _sides(frame, formula, *, fit_intercept, y_given, exclude):
    """``(response or None, right-hand side)``; without a formula, every column (but
    ``exclude``) is a term and ``fit_intercept`` decides the intercept."""
    if formula is None:
        columns = [c for c in frame.columns if c not in set(exclude)]
        _refuse_unencodable(frame[columns])
        terms = " + ".join(_quote(c) for c in columns)
        return None, ("1 + " if fit_intercept else "0 + ") + terms
    response, rhs = _split_formula(formula)
    if response is not None and y_given:
        raise ValueError(
            f"The formula {formula!r} names the response ({response}); do not pass y as well."
        )
    if response is None and not y_given:
        raise ValueError(
            f"The formula {formula!r} has no response: write it as 'y ~ ...', or pass y."
        )
    return response, rhs


def _all_levels(frame, categorical: list, meta: pd.DataFrame, split_every: int,
                label_column=None):
    """The coding levels of every categorical column, from all the partitions, and the
    sorted values of ``label_column`` (None when not asked for)."""
    extra = [label_column] if label_column and label_column not in categorical else []
    seen, orders = collect_levels(frame, categorical + extra, split_every)
    found = None
    if label_column:
        found = _ordered_levels(seen.get(label_column, set()), np.dtype(object), set())
    levels = {}
    for c in categorical:
        lev = _ordered_levels(seen.get(c, set()), meta[c].dtype, orders.get(c, set()))
        if not lev:
            raise ValueError(f"Column {c!r} has no non-missing values; it cannot be encoded.")
        if len(lev) == 1:
            raise ValueError(
                f"Column {c!r} has one level ({lev[0]!r}) in all the data; a categorical "
                "needs two or more levels to be coded against a reference (as in R). Drop "
                "the column."
            )
        levels[c] = lev
    return levels, found


def _intercept(names: list, formula, fit_intercept: bool) -> bool:
    """Whether the model has an intercept: the formula's say, which ``fit_intercept``
    must agree with; without a formula, ``fit_intercept``."""
    has_intercept = "Intercept" in names
    if has_intercept and names.index("Intercept") != 0:
        raise ValueError("formulaic put the intercept after other columns.")
    if formula is None:
        return bool(fit_intercept)
    if has_intercept != bool(fit_intercept):
        raise ValueError(
            f"The formula {formula!r} "
            + ("has an intercept but fit_intercept=False; write '0 +' (or '- 1') in the "
               "formula for a model without one." if has_intercept else
               "has no intercept ('0 +' or '- 1') but fit_intercept=True; pass "
               "fit_intercept=False as well.")
        )
    return has_intercept


def _response_spec(response, meta_cat: pd.DataFrame, frame):
    """``(formulaic spec or None, columns read)`` of the left-hand side: a column is
    taken as it is (class labels too); an expression must give one numeric column."""
    if response is None:
        return None, []
    if response in frame.columns:
        return None, [response]
    lhs_spec = _resolve(f"0 + {response}", meta_cat, frame)  # a side without intercept
    if len(lhs_spec.column_names) != 1:
        raise ValueError(
            f"The response {response!r} encodes to {len(lhs_spec.column_names)} columns; it "
            "must be one numeric column (for class labels name the column itself)."
        )
    return lhs_spec, sorted(lhs_spec.variables_by_source.get("data", set()))


# --------------------------------------------------------------------------------------
# one block
# --------------------------------------------------------------------------------------


def _as_1d(v) -> np.ndarray | None:
    if v is None:
        return None
    if isinstance(v, pd.DataFrame):
        v = v.iloc[:, 0]
    if isinstance(v, pd.Series):
        return v.to_numpy()
    return np.asarray(v)


def _isna(v) -> np.ndarray:
    return np.asarray(pd.isna(v), dtype=bool)


def check_columns(frame, design: Design, *, response: bool = False) -> None:
    """The columns a fitted design reads must be in ``frame`` (checked on metadata)."""
    need = design.variables + (design.response_variables if response else [])
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise ValueError(
            f"The frame lacks column(s) {missing} that the model reads ("
            + (f"formula {design.formula!r}" if design.from_formula else "fitted columns")
            + f"); its columns: {[str(c) for c in frame.columns][:30]}."
        )


def build_block(part: pd.DataFrame, design: Design, y=None, w=None, o=None, *,
                response: bool, missing: str, block_index=None, g=None):
    """One partition as ``(X, y, weights, offset, groups, report)`` NumPy arrays
    (float64 X).

    ``y``, ``w``, ``o``, ``g`` (cluster ids) are this partition's values passed
    separately, or names of columns of ``part`` (``w``, ``o``, ``g``); with
    ``response=True`` and ``y`` None the response comes from the formula's left-hand
    side (a missing cluster id is a missing value). Rows with a missing value in a
    column the model reads are dropped (``missing="drop"``), left as NaN rows
    (``"keep"``: predictions, which then show NaN there), raise at once (``"error"``),
    or -- ``"raise"`` -- are counted in ``report["problems"]`` and the block is returned
    empty, so that the pass in which it is met raises with the counts over all blocks.
    """
    if isinstance(y, str):
        y = part[y]
    if isinstance(w, str):
        w = part[w]
    if isinstance(o, str):
        o = part[o]
    if isinstance(g, str):
        g = part[g]
    y, w, o, g = _as_1d(y), _as_1d(w), _as_1d(o), _as_1d(g)
    n = len(part)
    vectors = (("y", y), ("sample_weight", w), ("offset", o), ("groups", g))
    for what, v in vectors:
        if v is not None and len(v) != n:
            raise ValueError(f"{what} has {len(v)} rows in this block but the frame has {n}.")
    cols = list(dict.fromkeys(design.variables + (design.response_variables if response
                                                  and y is None else [])))
    na_by_col = {c: _isna(part[c]) for c in cols}
    for what, v in vectors:
        if v is not None:
            na_by_col[what] = _isna(v)
    bad = np.zeros(n, dtype=bool)
    for mask in na_by_col.values():
        bad |= mask
    report: dict = {}
    if bad.any():
        if missing == "error":  # predictions: nothing to wait for, say it now
            counts = {f"missing_in: {c}": int(m.sum()) for c, m in na_by_col.items() if m.any()}
            raise ValueError(missing_message({"missing_rows": int(bad.sum()), **counts}))
        if missing == "raise":
            counts = {f"missing_in: {c}": int(m.sum()) for c, m in na_by_col.items() if m.any()}
            report = {"problems": {"missing_rows": int(bad.sum()), **counts}}
            keep = np.zeros(n, dtype=bool)
        elif missing == "drop":
            keep = ~bad
        else:  # "keep": prediction rows stay, with NaN where a value is missing
            keep = None
        if keep is not None:
            part = part.loc[keep] if len(part.index) == n else part[keep]
            y, w, o, g = (None if v is None else v[keep] for v in (y, w, o, g))
    _check_levels(part, design, block_index)
    X = _encode(part, design)
    if missing == "keep" and bad.any():
        X[bad] = np.nan
    if response and y is None:
        y = _response(part, design)
    return X, y, w, o, g, report


def _check_levels(part: pd.DataFrame, design: Design, block_index) -> None:
    for c, lev in design.levels.items():
        values = pd.Series(part[c].unique())  # the block's distinct values, in order met
        values = values[values.notna()]
        unseen = ~values.isin(pd.Index(lev))
        if unseen.any():
            new = values[unseen].tolist()
            raise ValueError(
                f"Column {c!r} has level(s) {new[:10]} that were not seen when the model "
                f"was fitted (its {len(lev)} fitted levels: {lev[:10]}"
                f"{' ...' if len(lev) > 10 else ''}); a model cannot predict for a level "
                "it has no coefficient for."
            )


def _encode(part: pd.DataFrame, design: Design) -> np.ndarray:
    p = design.n_columns
    if len(part) == 0:
        return np.zeros((0, p))
    spec = _block_spec(design)
    if not spec.column_names:  # an intercept-only model
        return np.zeros((len(part), 0))
    plan = _encoding_plan(design, spec)
    if plan is not None:
        return _encode_by_plan(part, design, plan)
    return _encode_by_formulaic(part, design, spec)


def _encode_by_formulaic(part: pd.DataFrame, design: Design, spec) -> np.ndarray:
    frame = _fill_missing_levels(
        _as_levels(part[design.variables].reset_index(drop=True), design.levels), design.levels)
    # no warnings.catch_warnings() here: this runs in scheduler threads, and
    # catch_warnings is not thread-safe -- concurrent blocks restore each other's saved
    # filters and leave "ignore" installed for the whole process (silencing every later
    # warning, the fits' own included). np.errstate is thread-local.
    with np.errstate(all="ignore"):
        mm = spec.get_model_matrix(frame, na_action="ignore", output="sparse")
    # formulaic's sparse output, densified once: its dense ("numpy") output copies every
    # column, stacks them into a row-major matrix column by column, and the intercept
    # would be dropped by another copy -- three times the time for the same numbers
    return getattr(mm, "__wrapped__", mm).astype(np.float64, copy=False).toarray(order="C")


@dataclass
class _Plan:
    """How a block is encoded: categorical main effects by their codes, the other terms
    by formulaic (``rest``, a sub-spec, into ``rest_columns``)."""

    one_hot: list  # (variable, levels, first design column, first level coded: 0 or 1)
    rest: object
    rest_columns: np.ndarray
    rest_variables: list


def _encoding_plan(design: Design, spec):
    """A :class:`_Plan` when the spec has categorical main effects in treatment coding
    (``C(g)`` or a string column ``g``: the most common and, through formulaic, the
    costliest terms), cached on the design; None when there are none (or formulaic's
    spec does not have the expected shape: everything is then formulaic's).

    The result is exactly formulaic's matrix (tests compare them): a main effect's
    columns are the indicators of its levels but the first (reduced rank, with an
    intercept or an earlier categorical) or of all of them (full rank)."""
    if "_plan" in design.__dict__:
        return design.__dict__["_plan"]
    plan = None
    try:
        plan = _make_plan(design, spec)
    except Exception:  # an unexpected spec layout: formulaic encodes everything
        plan = None
    design.__dict__["_plan"] = plan
    return plan


def _make_plan(design: Design, spec):
    one_hot, rest_terms, rest_cols = [], [], []
    start = 0
    for entry in spec.structure:
        term, cols = entry.term, list(entry.columns)
        coded = _main_effect(term, cols, design, spec)
        if coded is None:
            rest_terms.append(term)
            rest_cols.extend(range(start, start + len(cols)))
        else:
            one_hot.append((coded[0], coded[1], start, coded[2]))
        start += len(cols)
    if not one_hot or start != design.n_columns:
        return None
    rest = None
    if rest_terms:
        rest = spec.subset(rest_terms)
        if [str(c) for c in rest.column_names] != [design.column_names[j] for j in rest_cols]:
            return None
    rest_variables = [] if rest is None else [
        v for v in design.variables if v in rest.variables_by_source.get("data", set())]
    return _Plan(one_hot, rest, np.asarray(rest_cols, dtype=np.intp), rest_variables)


def _main_effect(term, cols: list, design: Design, spec):
    """``(variable, levels, first level coded)`` for a treatment-coded categorical main
    effect whose columns are formulaic's names for exactly that, else None."""
    factors = list(term.factors)
    if len(factors) != 1:
        return None
    expr = str(factors[0].expr)
    var = expr[2:-1] if expr.startswith("C(") and expr.endswith(")") else expr
    if var not in design.levels:
        return None
    kind, state = spec.encoder_state.get(expr, (None, {}))
    contrasts = state.get("contrasts")
    if getattr(kind, "value", None) != "categorical" or contrasts is None:
        return None
    if type(contrasts.contrasts).__name__ != "TreatmentContrasts":
        return None
    if not str(getattr(contrasts.contrasts, "base", "UNSET")).endswith("UNSET"):
        return None  # a chosen reference level: formulaic codes it
    levels = design.levels[var]
    if list(state.get("categories", [])) != list(levels):
        return None
    if cols == [f"{expr}[T.{lev}]" for lev in levels[1:]]:
        return var, levels, 1
    if cols == [f"{expr}[{lev}]" for lev in levels]:
        return var, levels, 0
    return None


def _encode_by_plan(part: pd.DataFrame, design: Design, plan: _Plan) -> np.ndarray:
    n = len(part)
    X = np.zeros((n, design.n_columns))
    rows = np.arange(n)
    for var, levels, start, first in plan.one_hot:
        codes, uniques = pd.factorize(part[var])
        lookup = np.append(pd.Index(levels).get_indexer(pd.Index(uniques)), -1)
        level = lookup[codes]  # -1: missing (a row blanked later) or an unseen level
        hit = level >= first
        X[rows[hit], start + level[hit] - first] = 1.0
    if plan.rest is not None:  # categoricals in other terms (a:b) need their levels set
        used = {v: lev for v, lev in design.levels.items() if v in plan.rest_variables}
        frame = _fill_missing_levels(
            _as_levels(part[plan.rest_variables].reset_index(drop=True), used), used)
        with np.errstate(all="ignore"):
            mm = plan.rest.get_model_matrix(frame, na_action="ignore", output="numpy")
        X[:, plan.rest_columns] = np.asarray(mm, dtype=np.float64)
    return X


def _block_spec(design: Design):
    """The model spec that encodes a block: the fitted spec without its intercept term
    (formulaic's ``subset`` keeps every other column's coding), cached on the design."""
    spec = design.__dict__.get("_block_spec")
    if spec is None:
        spec = design.spec
        if "Intercept" in spec.column_names:
            terms = [t for t in spec.formula if str(t) != "1"]
            spec = spec.subset(terms) if terms else spec.update(formula=[], structure=[])
            if [str(c) for c in spec.column_names] != design.column_names:
                raise AssertionError(  # pragma: no cover -- formulaic guarantees it
                    "formulaic's subset of the model spec changed its columns: "
                    f"{list(spec.column_names)[:5]} ...")
        design.__dict__["_block_spec"] = spec
    return spec


def _response(part: pd.DataFrame, design: Design) -> np.ndarray:
    if design.lhs_spec is None:
        col = part[design.response]
        if pd.api.types.is_bool_dtype(col.dtype):
            return col.to_numpy(dtype=bool)
        if pd.api.types.is_numeric_dtype(col.dtype):
            return col.to_numpy(dtype=np.float64 if pd.api.types.is_extension_array_dtype(
                col.dtype) else None)
        return col.to_numpy(dtype=object)
    if len(part) == 0:
        return np.zeros(0)
    with np.errstate(all="ignore"):  # thread-local, unlike warnings.catch_warnings
        mm = design.lhs_spec.get_model_matrix(part.reset_index(drop=True), na_action="ignore")
    return np.asarray(mm, dtype=np.float64)[:, 0]


def missing_message(problems: dict) -> str | None:
    """The missing-value part of a first-pass error (``None`` when there is none)."""
    rows = problems.get("missing_rows")
    if not rows:
        return None
    per = {k[len("missing_in: "):]: v for k, v in problems.items()
           if k.startswith("missing_in: ")}
    shown = ", ".join(f"{c}: {v:,}" for c, v in sorted(per.items(), key=lambda kv: -kv[1]))
    return f"{rows:,} rows have missing values in the model's columns ({shown}); {_MISSING_HINT}"


# --------------------------------------------------------------------------------------
# all blocks
# --------------------------------------------------------------------------------------


def dask_blocks(frame, design: Design, y=None, w=None, o=None, *, response: bool,
                missing: str, y_dtype=None, g=None):
    """Design, response, weights, offset (and cluster ids ``g``) of every partition,
    from one graph.

    Returns ``(X, y, w, o, g, reports)``: dask arrays with one row block per partition
    (sizes unknown until computed) and one delayed report per block. Each partition
    is read and encoded once per pass, whatever of the four a block function uses.
    """
    from ._blocks import frame_partitions, join_to_frame, stack_blocks

    for what, v in (("y", y), ("sample_weight", w), ("offset", o), ("groups", g)):
        if v is not None and not isinstance(v, str) and not dask.is_dask_collection(v):
            raise TypeError(
                f"{what} must be a dask Series partitioned like the frame, or the name of "
                f"one of its columns; got {type(v).__name__}."
            )
    frame, names = join_to_frame(frame, y=y, sample_weight=w, offset=o, groups=g)
    y, w, o, g = names["y"], names["sample_weight"], names["offset"], names["groups"]
    d = dask.delayed(design, pure=True)
    p = design.n_columns
    built = [dask.delayed(build_block, pure=True, nout=6)(
        part, d, y, w, o, response=response, missing=missing, block_index=k, g=g)
        for k, part in enumerate(frame_partitions(frame))]

    def stack(i, shape, dtype):
        return stack_blocks([b[i] for b in built], shape, dtype)

    X = stack(0, (math.nan, p), np.float64)
    yd = stack(1, (math.nan,), y_dtype or np.float64) if (response or y is not None) else None
    wd = stack(2, (math.nan,), np.float64) if w is not None else None
    od = stack(3, (math.nan,), np.float64) if o is not None else None
    gd = stack(4, (math.nan,), object) if g is not None else None
    reports = [b[5] for b in built]
    return X, yd, wd, od, gd, reports


def response_dtype(frame, design: Design, y=None):
    """The dtype of the response blocks (from metadata)."""
    if y is not None:
        dt = getattr(y, "dtype", None)
    elif design.response is not None and design.lhs_spec is None:
        dt = frame._meta[design.response].dtype if dask.is_dask_collection(frame) else frame[
            design.response].dtype
    else:
        return np.float64
    if dt is None:
        return np.float64
    from ._blocks import vector_dtype

    return vector_dtype(dt)


# --------------------------------------------------------------------------------------
# predictions: an expression on the frame
# --------------------------------------------------------------------------------------


def partition_eta(part: pd.DataFrame, design: Design, coef, intercept, offset=None, *,
                  missing: str) -> pd.Series:
    """The linear predictor of one partition through the design: a float64 Series on the
    partition's index, one value per row (NaN for a row with a missing value under
    ``missing="keep"``; ``offset`` a column of ``part``, added)."""
    X, _, _, o, _, _ = build_block(part, design, None, None, offset, response=False,
                                   missing=missing)
    eta = X @ coef + intercept
    if o is not None:
        eta = eta + np.asarray(o, dtype=np.float64)
    return pd.Series(eta, index=part.index, dtype=np.float64)


def numeric_partition_eta(part: pd.DataFrame, columns: list, coef, intercept,
                          offset=None) -> pd.Series:
    """``part[columns] @ coef + intercept (+ part[offset])`` as a float64 Series on the
    partition's index (a numeric frame without a design)."""
    X = part[columns].to_numpy(dtype=np.float64, na_value=np.nan)
    eta = X @ coef + intercept
    if offset is not None:
        eta = eta + part[offset].to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.Series(eta, index=part.index, dtype=np.float64)


def frame_predictions(frame, columns: list, fn, *args, offset=None, **kwargs):
    """``fn(partition, *args, offset=..., **kwargs)`` on the columns a model reads: a
    float64 dask Series that is an expression on ``frame`` itself.

    dask-expr plans it together with the frame: a selection of ``frame.assign(p=...)``
    projects and fuses the reads of both alike (a narrow projection of many small Parquet
    files is read as fewer partitions), and a filter is pushed into both; so the
    predictions can be assigned back to the frame they came from, un-persisted.
    ``offset``: the name of a column of ``frame``, or a dask Series of the same frame
    (joined to it as a column first); ``fn`` gets the column's name.
    """
    from ._blocks import join_to_frame

    if offset is not None and not isinstance(offset, str) and not dask.is_dask_collection(
            offset):
        raise TypeError(
            "With a dask DataFrame, offset must be a dask Series partitioned like the frame "
            "(e.g. one of its columns, or computed from them) or the name of one of its "
            f"columns; got {type(offset).__name__}."
        )
    if isinstance(offset, str) and offset not in frame.columns:
        raise ValueError(f"offset={offset!r} names no column of X.")
    frame, names = join_to_frame(frame, offset=offset)
    offset = names["offset"]
    if offset is not None and not isinstance(offset, str):  # a dask array: not a column
        raise TypeError(
            "With a dask DataFrame, offset must be a dask Series partitioned like the frame "
            f"or the name of one of its columns; got {type(offset).__name__}."
        )
    cols = list(dict.fromkeys([*columns, *([offset] if offset is not None else [])]))
    meta = pd.Series(np.array([], dtype=np.float64), index=frame._meta.index[:0])
    return frame[cols].map_partitions(fn, *args, offset=offset, **kwargs, meta=meta)
