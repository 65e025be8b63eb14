"""Estimators: one module per method family."""

from .brglm import BiasReducedGLM
from .debiased_lasso import DebiasedLassoRegressor
from .dlsa import DLSALogisticRegression, DLSARegressor
from .penalized import PenalizedGLM, PenalizedLogisticRegression

__all__ = [
    "BiasReducedGLM",
    "DebiasedLassoRegressor",
    "DLSALogisticRegression",
    "DLSARegressor",
    "PenalizedGLM",
    "PenalizedLogisticRegression",
]
