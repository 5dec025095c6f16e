"""What the latents learned: activity, collapse, mean vs sampled, relevance, disentanglement.

Each diagnostic takes any model meeting the latent-model contract and comes as a pair:
``run_*`` returns the raw numbers, ``check_*`` a summary. :func:`diagnose` runs them all.
"""

from latentinfer.diagnostics.activity import ActivityResult, check_activity, run_activity
from latentinfer.diagnostics.collapse import (
    CollapseResult,
    canonical_correlations,
    check_collapse,
    predict_linear_collapse,
    predict_linear_hvae_collapse,
    run_collapse,
)
from latentinfer.diagnostics.disentanglement import (
    DCIResult,
    MIGResult,
    dci,
    discretize_factors,
    mig,
    mutual_info_matrix,
)
from latentinfer.diagnostics.relevance import RelevanceResult, check_relevance, run_relevance
from latentinfer.diagnostics.report import Diagnosis, diagnose
from latentinfer.diagnostics.representation import (
    MeanVsSampledResult,
    check_mean_vs_sampled,
    classify_variables,
    gaussian_total_correlation,
    mean_abs_correlation,
    run_mean_vs_sampled,
)
from latentinfer.diagnostics.traversal import TraversalResult, run_traversal

__all__ = [
    "ActivityResult",
    "CollapseResult",
    "DCIResult",
    "Diagnosis",
    "MIGResult",
    "MeanVsSampledResult",
    "RelevanceResult",
    "TraversalResult",
    "canonical_correlations",
    "check_activity",
    "check_collapse",
    "check_mean_vs_sampled",
    "check_relevance",
    "classify_variables",
    "dci",
    "diagnose",
    "discretize_factors",
    "gaussian_total_correlation",
    "mean_abs_correlation",
    "mig",
    "mutual_info_matrix",
    "predict_linear_collapse",
    "predict_linear_hvae_collapse",
    "run_activity",
    "run_collapse",
    "run_mean_vs_sampled",
    "run_relevance",
    "run_traversal",
]
