"""Public checkers: the contract checks our own tests use, for users' models too."""

from latentinfer.testing.contracts import ContractReport, check_latent_model

__all__ = ["ContractReport", "check_latent_model"]
