"""Record lifelines' weighted Efron Cox fit of a small seeded data set (the oracle of
tests/test_cox_kernel.py; lifelines pins pandas < 3, so it is not a test dependency).

Run in an environment with lifelines:  python tests/data/make_cox_weighted_lifelines.py
"""

import json
from pathlib import Path

import numpy as np


def data():
    rng = np.random.default_rng(16)
    n = 300
    X = rng.normal(size=(n, 3))
    t = np.ceil(rng.exponential(np.exp(-X @ np.array([0.6, -0.4, 0.2]))) * 8) / 8  # ties
    event = (rng.random(n) < 0.75).astype(float)
    w = rng.uniform(0.5, 3.0, n)
    return X, t, event, w


if __name__ == "__main__":
    import lifelines
    import pandas as pd
    from lifelines import CoxPHFitter

    X, t, event, w = data()
    df = pd.DataFrame(X, columns=["x0", "x1", "x2"]).assign(T=t, E=event, w=w)
    cph = CoxPHFitter().fit(df, "T", "E", weights_col="w", robust=False,
                              fit_options={"precision": 1e-14, "step_size": 1.0})
    out = {"lifelines": lifelines.__version__,
           "coef": cph.params_.tolist(), "se": cph.standard_errors_.tolist(),
           "loglik": float(cph.log_likelihood_)}
    Path(__file__).with_name("cox_weighted_lifelines.json").write_text(json.dumps(out, indent=1))
    print(out)
