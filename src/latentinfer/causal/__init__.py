"""Causal inference with latent variables: estimators with EconML's interface.

Every estimator is a :class:`~latentinfer.causal.base.CausalEstimator`:
``fit(Y, T, *, X=None, W=None, Z=None)``, ``effect(X, T0, T1)``, ``ate(X)``,
``effect_interval(X, alpha=...)`` where the method gives intervals.
"""

from latentinfer.causal.base import CausalData, CausalEstimator, check_binary_treatment

__all__ = ["CausalData", "CausalEstimator", "check_binary_treatment"]

# IV and IV-like regression (Akbar et al. 2025)
from latentinfer.causal.augmentation import (
    Augmentation,
    AugmentedData,
    PeriodicShift,
    SignFlip,
    SubspaceTranslation,
    apply_augmentation,
)
from latentinfer.causal.iv import (
    DAERM,
    DEFAULT_ALPHAS,
    IVL,
    AlphaSearch,
    TwoStageLeastSquares,
    ivl_closed_form,
    ivl_risk,
    projection_basis,
)
from latentinfer.causal.ivl_neural import NeuralIVL
from latentinfer.causal.ivl_simulation import (
    InvarianceSimulation,
    linear_invariance_sem,
    ncer,
    nonlinear_invariance_sem,
)

__all__ = [
    *__all__,
    "DAERM",
    "DEFAULT_ALPHAS",
    "IVL",
    "AlphaSearch",
    "Augmentation",
    "AugmentedData",
    "InvarianceSimulation",
    "NeuralIVL",
    "PeriodicShift",
    "SignFlip",
    "SubspaceTranslation",
    "TwoStageLeastSquares",
    "apply_augmentation",
    "ivl_closed_form",
    "ivl_risk",
    "linear_invariance_sem",
    "ncer",
    "nonlinear_invariance_sem",
    "projection_basis",
]

# Latent confounders (CEVAE, VLUCI), base estimators and metrics
from latentinfer.causal import metrics
from latentinfer.causal.cevae import CEVAE
from latentinfer.causal.learners import OLS, SLearner, TLearner
from latentinfer.causal.vluci import VLUCI

__all__ += ["CEVAE", "OLS", "VLUCI", "SLearner", "TLearner", "metrics"]
