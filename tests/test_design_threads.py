"""Building blocks inside dask's worker threads leaves the process's warning filters
alone: ``warnings.catch_warnings`` is not thread-safe, and two blocks encoded at once
used to leave an 'ignore every warning' filter behind, which silenced the estimators'
own warnings (SeparationWarning, ConvergenceWarning) for the rest of the process."""

import warnings

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from dask_glmdist import BiasReducedGLM


def test_fit_on_threads_keeps_the_warning_filters():
    rng = np.random.default_rng(0)
    n = 960
    frame = pd.DataFrame({"x": rng.normal(size=n), "g": rng.choice(list("abc"), size=n)})
    frame["y"] = rng.poisson(np.exp(0.2 * frame["x"]))
    ddf = dd.from_pandas(frame, npartitions=24)
    with warnings.catch_warnings():
        before = list(warnings.filters)
        with dask.config.set(scheduler="threads", num_workers=8):
            BiasReducedGLM("poisson", method="ML", formula="y ~ x + C(g)",
                           missing="drop").fit(ddf)
        after = list(warnings.filters)
    assert after == before
