"""The variational autoencoder (Kingma & Welling 2014), with the β-VAE weight as an option."""

from __future__ import annotations

from typing import final

from latentinfer.vae.gaussian import GaussianLatentModel

__all__ = ["VAE"]


@final
class VAE(GaussianLatentModel):
    """Variational autoencoder: z ~ N(0, I), x | z ~ p(x | decoder(z)), q(z|x) Gaussian.

    Trained by maximising the ELBO E_q[log p(x|z)] − β·KL(q(z|x) ‖ p(z)); ``beta`` ≠ 1 gives
    the β-VAE of Higgins et al. (2017) from the same class. Gaussian, Bernoulli and
    categorical likelihoods; MLP or convolutional networks. See
    :class:`~latentinfer.vae.gaussian.GaussianLatentModel` for every argument.

    Learned attributes: ``likelihood_``, ``architecture_``, ``seed_``, ``history_``
    (per-epoch losses), ``train_result_``, ``feature_shape_``, ``n_features_in_``.

    Example:
        >>> import numpy as np
        >>> from latentinfer.vae import VAE
        >>> X = np.random.default_rng(0).random((256, 8)).round()
        >>> vae = VAE(latent_dim=2, hidden=(32,), seed=0).fit(X, max_epochs=3, progress=False)
        >>> vae.transform(X).shape
        (256, 2)
        >>> vae.likelihood_
        'bernoulli'

    References:
        Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
        Higgins et al., "β-VAE: Learning Basic Visual Concepts with a Constrained
        Variational Framework", ICLR 2017.
    """
