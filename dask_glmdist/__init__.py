"""dask_glmdist: Dask-native, scikit-learn compatible distributed GLM estimators."""

from .diagnostics import SeparationWarning
from .estimators import (
    BiasReducedGLM,
    DebiasedLassoRegressor,
    DLSACoxRegression,
    DLSALogisticRegression,
    DLSARegressor,
    GLMPath,
    PenalizedGLM,
    PenalizedGLMCV,
    PenalizedLogisticRegression,
    PenalizedLogisticRegressionCV,
    penalized_glm_path,
)
from .families import get_family
from .screening import ScreeningSelector, screen

__all__ = [
    "BiasReducedGLM",
    "DebiasedLassoRegressor",
    "DLSACoxRegression",
    "DLSALogisticRegression",
    "DLSARegressor",
    "GLMPath",
    "PenalizedGLM",
    "PenalizedGLMCV",
    "PenalizedLogisticRegression",
    "PenalizedLogisticRegressionCV",
    "ScreeningSelector",
    "SeparationWarning",
    "get_family",
    "penalized_glm_path",
    "screen",
]
__version__ = "0.1.0"
