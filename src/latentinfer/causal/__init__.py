"""Causal inference with latent variables: estimators with EconML's interface.

Every estimator is a :class:`~latentinfer.causal.base.CausalEstimator`:
``fit(Y, T, *, X=None, W=None, Z=None)``, ``effect(X, T0, T1)``, ``ate(X)``,
``effect_interval(X, alpha=...)`` where the method gives intervals.
"""

from latentinfer.causal.base import CausalData, CausalEstimator, check_binary_treatment

__all__ = ["CausalData", "CausalEstimator", "check_binary_treatment"]
