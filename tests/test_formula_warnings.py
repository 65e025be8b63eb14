"""Formula fits on dask DataFrames leave the process's warning filters alone.

Blocks are encoded in the scheduler's threads; ``warnings.catch_warnings`` there is
not thread-safe (concurrent blocks restore each other's saved filters), which left
``simplefilter("ignore")`` installed for the whole process: every later warning --
the fit's own SeparationWarning included -- was silenced.
"""

import warnings

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from dask_glmdist import DLSALogisticRegression, DLSARegressor, SeparationWarning


def _frame(n=12_000, seed=0):
    rng = np.random.default_rng(seed)
    pdf = pd.DataFrame({"x": rng.normal(size=n), "g": rng.choice(["a", "b", "c", "d"], n)})
    pdf["y"] = pdf["x"] + rng.normal(size=n)
    # level "d" never has an event: its maximum likelihood estimate is -inf
    pdf["event"] = ((rng.random(n) < 0.3) & (pdf["g"] != "d")).astype(int)
    return pdf


def test_dask_frame_fits_leave_warning_filters_unchanged():
    df = dd.from_pandas(_frame(), npartitions=12)
    before = list(warnings.filters)
    with dask.config.set(scheduler="threads", num_workers=4):
        for _ in range(3):
            DLSARegressor(family="gaussian", formula="y ~ x + C(g)").fit(df)
    assert warnings.filters == before


@pytest.mark.filterwarnings("ignore:Row block")
def test_separation_warning_reaches_the_user_from_a_dask_frame():
    df = dd.from_pandas(_frame(seed=1), npartitions=12)
    with dask.config.set(scheduler="threads", num_workers=4):
        for _ in range(2):  # the lost warning depended on thread timing
            with pytest.warns(SeparationWarning, match=r"C\(g\)\[T\.d\] \(-inf\)"):
                DLSALogisticRegression(formula="event ~ x + C(g)").fit(df)


def test_predict_with_a_missing_level_is_nan_without_formulaic_warning():
    pdf = _frame(n=2_000)
    model = DLSARegressor(family="gaussian", formula="y ~ x + C(g)", missing="drop").fit(pdf)
    new = pdf.head(6).copy()
    new["g"] = new["g"].astype(object)
    new.loc[new.index[2], "g"] = None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # formulaic's DataMismatchWarning was per block
        pred = np.asarray(model.predict(dd.from_pandas(new, npartitions=2)))
    assert np.isnan(pred[2]) and not np.isnan(np.delete(pred, 2)).any()
