"""What a fit found wrong with its blocks and parameters, reported once.

A fit over hundreds of row blocks must not print hundreds of warnings. Block
functions return short per-block records; the estimator collects them in a
:class:`BlockReport` and emits **one warning per kind of problem per fit**, naming the
blocks and columns (shortened when long). The full per-block detail is kept on the
fitted estimator as ``block_diagnostics_`` (a DataFrame) and logged at DEBUG level
on the ``dask_glmdist`` logger.

Parameters whose estimate cannot be trusted are flagged with a :class:`ParamFlag`
(in the fitted attribute ``param_flags_``); :meth:`summary` shows them without a
standard error and explains them in its notes.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from dataclasses import dataclass, field

import pandas as pd

logger = logging.getLogger("dask_glmdist")

__all__ = [
    "BlockReport", "ParamFlag", "SeparationWarning", "short_list", "warn",
    "INFINITE", "UNIDENTIFIED", "UNRELIABLE",
]

# block problems (the ``problem`` column of ``block_diagnostics_``)
EMPTY = "empty"                      # no rows: skipped
ZERO_WEIGHT = "zero_weight"          # every sample weight is 0: skipped
SEPARATED = "separated"              # the block's local MLE does not exist
CONSTANT_COLUMNS = "constant_columns"  # columns constant (no information) within the block
COLLINEAR = "collinear"              # the block's local design is rank deficient
NOT_CONVERGED = "not_converged"      # the block's local fit ran out of iterations
LEFT_OUT = "left_out"                # the block was left out of the estimate (too small)

# parameter flags (ParamFlag.kind)
INFINITE = "infinite"
UNIDENTIFIED = "unidentified"
UNRELIABLE = "unreliable"


class SeparationWarning(UserWarning):
    """The maximum likelihood estimate has infinite components (separated data)."""


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_SKIPPED = ("sklearn", "functools", "contextlib")


def _user_stacklevel() -> int:
    """The stack level of the first frame outside this package and the wrappers of its
    ``fit`` methods (scikit-learn's ``_fit_context``, ``functools``, ``contextlib``)."""
    frame, level = sys._getframe(1), 1
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        inside = path.startswith(_PACKAGE_DIR) or any(
            f"{os.sep}{name}{os.sep}" in path or path.endswith(f"{os.sep}{name}.py")
            for name in _SKIPPED)
        if not inside:
            return level
        frame, level = frame.f_back, level + 1
    return level


def warn(message: str, category=UserWarning) -> None:
    """``warnings.warn`` pointed at the user's line that called into the package.

    Estimators reach the same warning at different depths (``fit`` directly, a path,
    cross-validation, the progress decorator), so no fixed ``stacklevel`` is right.
    """
    warnings.warn(message, category, stacklevel=_user_stacklevel())


def short_list(items, limit: int = 8) -> str:
    """``[a, b, c]``, or the first ``limit`` items and how many there are in all."""
    items = list(items)
    if len(items) <= limit:
        return "[" + ", ".join(map(str, items)) + "]"
    head = ", ".join(map(str, items[:limit]))
    return f"[{head}, ... ({len(items)} in all)]"


@dataclass(frozen=True)
class ParamFlag:
    """Why a parameter's estimate or standard error is not reported as usual.

    ``kind`` is ``"infinite"`` (the estimate does not exist: it runs off to
    ``sign * inf``; the fitted value is an artefact of stopping) or
    ``"unidentified"`` (the data do not identify it, so it has no standard error) or
    ``"unreliable"`` (an estimate exists, but the method's standard error cannot be
    trusted for it -- e.g. a one-round DLSA estimate resting on separated blocks).
    ``note`` is one line for the summary's footer.
    """

    kind: str
    note: str
    sign: int = 0


@dataclass
class _Entry:
    kind: str
    block: int
    columns: tuple = ()
    detail: str = ""


@dataclass
class BlockReport:
    """Per-block problems of one fit, reported as one warning per kind.

    ``add(kind, block, columns, detail)`` records a problem; :meth:`emit` warns once
    for every kind with a message from ``messages[kind]``, a format string that may
    use ``{blocks}`` (the block indices, shortened), ``{n_blocks}``, ``{columns}``
    (the union of the columns named, shortened) and ``{detail}`` (the first block's
    detail).
    """

    entries: list = field(default_factory=list)

    def add(self, kind: str, block: int, columns=(), detail: str = "") -> None:
        self.entries.append(_Entry(kind, int(block), tuple(columns), str(detail)))

    def kinds(self) -> list[str]:
        seen: list[str] = []
        for e in self.entries:
            if e.kind not in seen:
                seen.append(e.kind)
        return seen

    def blocks(self, kind: str) -> list[int]:
        return sorted({e.block for e in self.entries if e.kind == kind})

    def columns(self, kind: str) -> list:
        cols: list = []
        for e in self.entries:
            if e.kind == kind:
                cols.extend(c for c in e.columns if c not in cols)
        return cols

    def frame(self) -> pd.DataFrame:
        """One row per (block, problem): ``block``, ``problem``, ``columns``, ``detail``."""
        return pd.DataFrame(
            {"block": [e.block for e in self.entries],
             "problem": [e.kind for e in self.entries],
             "columns": [list(e.columns) for e in self.entries],
             "detail": [e.detail for e in self.entries]},
            columns=["block", "problem", "columns", "detail"],
        )

    def emit(self, messages: dict) -> None:
        """Warn once per kind of problem; log every entry at DEBUG.

        ``messages`` maps a kind to ``(category, format string)``; kinds without a
        message are only logged.
        """
        for e in self.entries:
            logger.debug("row block %d: %s %s %s", e.block, e.kind,
                         list(e.columns) if e.columns else "", e.detail)
        for kind in self.kinds():
            if kind not in messages:
                continue
            category, template = messages[kind]
            blocks = self.blocks(kind)
            first = next(e for e in self.entries if e.kind == kind)
            warn(template.format(blocks=short_list(blocks), n_blocks=len(blocks),
                                 columns=short_list(self.columns(kind)), detail=first.detail),
                 category)
