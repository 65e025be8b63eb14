"""Record lifelines' CoxPHFitter numbers on the Rossi recidivism data (tests/test_cox_lifelines.py).

lifelines pins pandas < 3, so it cannot be installed next to this package's test
environment; this script runs in a separate environment with lifelines (0.30.3 when
recorded) and writes ``rossi.csv`` (lifelines.datasets.load_rossi, shipped with
lifelines under the MIT licence; Rossi, Berk & Lenihan 1980) and
``cox_lifelines_reference.json`` next to itself::

    /path/to/venv-with-lifelines/bin/python tests/data/make_cox_lifelines_reference.py

Fits (Efron ties, lifelines' only method):
* ``all``: week ~ fin + age + race + wexp + mar + paro + prio, event arrest;
* ``blocks``: the same with ``strata=["block"]``, block = row number % 4 (the rows
  split into 4 blocks by position): the block-stratified partial likelihood that
  DLSACoxRegression's refinement converges to on those 4 blocks;
* ``strata_wexp``: the same covariates without wexp, ``strata=["wexp"]``;
* ``weighted``: case weights w = 1 + row number % 3 (``weights_col``).
Recorded: coefficients, standard errors, log partial likelihood, concordance index,
the centring means, and the baseline cumulative hazard (lifelines': at the mean
covariates), survival functions of the first three rows at a few times and their
(log) partial hazards (lifelines': exp((x - mean)'beta), centred at the training means).
"""

import json
import os

import lifelines
import numpy as np
from lifelines import CoxPHFitter
from lifelines.datasets import load_rossi

HERE = os.path.dirname(os.path.abspath(__file__))
#: lifelines' Newton stops at its default precision 1e-7 otherwise (coefficients ~1e-6 off)
FIT = {"fit_options": {"precision": 1e-14, "step_size": 1.0}}
TIMES = [5.0, 10.0, 20.0, 30.0, 40.0, 52.0]


def record(cph, df):
    out = {
        "coef": cph.params_.to_dict(),
        "se": cph.standard_errors_.to_dict(),
        "loglik": float(cph.log_likelihood_),
        "concordance": float(cph.concordance_index_),
        "norm_mean": cph._norm_mean.to_dict(),
        "baseline_cumulative_hazard": {
            str(c): {"time": cph.baseline_cumulative_hazard_.index.astype(float).tolist(),
                     "value": cph.baseline_cumulative_hazard_[c].astype(float).tolist()}
            for c in cph.baseline_cumulative_hazard_.columns},
    }
    sf = cph.predict_survival_function(df.iloc[:3], times=TIMES)
    out["survival_first3"] = {"times": TIMES, "values": sf.to_numpy().T.tolist()}
    out["partial_hazard_first3"] = cph.predict_partial_hazard(df.iloc[:3]).tolist()
    out["log_partial_hazard_first3"] = cph.predict_log_partial_hazard(df.iloc[:3]).tolist()
    return out


def main():
    df = load_rossi()
    df.to_csv(os.path.join(HERE, "rossi.csv"), index=False)
    ref = {"lifelines": lifelines.__version__}
    cph = CoxPHFitter().fit(df, duration_col="week", event_col="arrest", **FIT)
    ref["all"] = record(cph, df)
    blocks = df.assign(block=np.arange(len(df)) % 4)
    cph = CoxPHFitter().fit(blocks, duration_col="week", event_col="arrest", strata=["block"],
                            **FIT)
    ref["blocks"] = record(cph, blocks)
    cph = CoxPHFitter().fit(df, duration_col="week", event_col="arrest", strata=["wexp"], **FIT)
    ref["strata_wexp"] = record(cph, df)
    weighted = df.assign(w=1.0 + np.arange(len(df)) % 3)
    cph = CoxPHFitter().fit(weighted, duration_col="week", event_col="arrest", weights_col="w",
                            robust=False, **FIT)
    ref["weighted"] = record(cph, weighted)
    with open(os.path.join(HERE, "cox_lifelines_reference.json"), "w") as f:
        json.dump(ref, f, indent=1)


if __name__ == "__main__":
    main()
