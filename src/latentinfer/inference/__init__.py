"""Estimators shared by the families: ELBO, IWAE, and their pieces as pure tensor functions."""

from latentinfer.inference.elbo import (
    ELBOTerms,
    elbo,
    gaussian_kl_per_dim,
    gaussian_log_prob_per_dim,
)
from latentinfer.inference.iwae import iwae_bound

__all__ = [
    "ELBOTerms",
    "elbo",
    "gaussian_kl_per_dim",
    "gaussian_log_prob_per_dim",
    "iwae_bound",
]
