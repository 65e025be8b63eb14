"""Estimators: one module per method family."""

from .brglm import BiasReducedGLM
from .cox import DLSACoxRegression
from .debiased_lasso import DebiasedLassoRegressor
from .dlsa import DLSALogisticRegression, DLSARegressor
from .penalized import PenalizedGLM, PenalizedLogisticRegression
from .penalized_logistic_cv import PenalizedLogisticRegressionCV
from .penalized_path import GLMPath, PenalizedGLMCV, penalized_glm_path

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
    "penalized_glm_path",
]
