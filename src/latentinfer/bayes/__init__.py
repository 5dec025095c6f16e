"""Fast Bayesian inference: hierarchical Gaussian filters, streaming conjugate filters,
Normal-Inverse-Wishart meta-learning."""

from latentinfer.bayes._streaming import ConjugateFilter, FilterTrace
from latentinfer.bayes.beta_bernoulli import BetaBernoulliFilter, CredibleInterval
from latentinfer.bayes.conjugate import (
    DirichletCategoricalFilter,
    NormalFilter,
    NormalInverseGammaFilter,
)
from latentinfer.bayes.episodic import FewShotEvaluation
from latentinfer.bayes.hgf import HGF, FilterResult, Network
from latentinfer.bayes.niw import NIWMeta
from latentinfer.bayes.niw_heads import ConjugateGaussianHead, PrototypicalHead
from latentinfer.bayes.selection import Selection, thompson_select

__all__ = [
    "HGF",
    "BetaBernoulliFilter",
    "ConjugateFilter",
    "ConjugateGaussianHead",
    "CredibleInterval",
    "DirichletCategoricalFilter",
    "FewShotEvaluation",
    "FilterResult",
    "FilterTrace",
    "NIWMeta",
    "Network",
    "NormalFilter",
    "NormalInverseGammaFilter",
    "PrototypicalHead",
    "Selection",
    "thompson_select",
]
