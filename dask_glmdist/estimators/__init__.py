"""Estimators: one module per method family."""

from .dlsa import DLSALogisticRegression, DLSARegressor

__all__ = ["DLSALogisticRegression", "DLSARegressor"]
