"""Deep latent-variable models: VAE, β-VAE, ARD-VAE, conditional and hierarchical VAEs."""

from latentinfer.vae.ard import ARDVAE
from latentinfer.vae.base import LatentVariableModel
from latentinfer.vae.conditional import ConditionalVAE
from latentinfer.vae.gaussian import GaussianLatentModel
from latentinfer.vae.hierarchical import HierarchicalVAE
from latentinfer.vae.vae import VAE

__all__ = [
    "ARDVAE",
    "VAE",
    "ConditionalVAE",
    "GaussianLatentModel",
    "HierarchicalVAE",
    "LatentVariableModel",
]
