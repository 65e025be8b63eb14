"""dask_glmdist: Dask-native, scikit-learn compatible distributed GLM estimators."""

from .estimators import (
    BiasReducedGLM,
    DebiasedLassoRegressor,
    DLSALogisticRegression,
    DLSARegressor,
    PenalizedGLM,
    PenalizedLogisticRegression,
)
from .families import get_family

__all__ = [
    "BiasReducedGLM",
    "DebiasedLassoRegressor",
    "DLSALogisticRegression",
    "DLSARegressor",
    "PenalizedGLM",
    "PenalizedLogisticRegression",
    "get_family",
]
__version__ = "0.1.0"
