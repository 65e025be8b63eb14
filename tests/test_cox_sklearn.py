"""DLSACoxRegression and scikit-learn's conventions: the check_estimator sweep (durations
take y's place), clone, get_params/set_params."""

import numpy as np
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from dask_glmdist import DLSACoxRegression

# fit(X, durations, event=None, ...) names its second argument as lifelines does; the
# checks that call fit(X, y=...) or score(X, y=...) by keyword cannot pass it
_BY_KEYWORD = ("fit(X, durations, ...) as lifelines: the check passes y by keyword")
EXPECTED = {
    "check_fit_score_takes_y": _BY_KEYWORD,
    "check_sample_weight_equivalence_on_dense_data": _BY_KEYWORD,
    "check_n_features_in_after_fitting": _BY_KEYWORD,
}


@parametrize_with_checks([DLSACoxRegression()], expected_failed_checks=lambda e: EXPECTED)
def test_sklearn_checks(estimator, check):
    check(estimator)


def test_clone_and_params():
    est = DLSACoxRegression(ties="breslow", refine_steps=3)
    assert est.get_params()["ties"] == "breslow"
    twin = clone(est).set_params(refine_steps=0, missing="drop")
    assert twin.get_params()["refine_steps"] == 0 and est.refine_steps == 3
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    t = rng.exponential(np.exp(-X[:, 0]))
    fitted = twin.fit(X, t)
    assert fitted.n_iter_ == 1 and not hasattr(clone(fitted), "coef_")
