"""Estimators: one module per method family."""

from .brglm import BiasReducedGLM
from .dlsa import DLSALogisticRegression, DLSARegressor

__all__ = ["BiasReducedGLM", "DLSALogisticRegression", "DLSARegressor"]
