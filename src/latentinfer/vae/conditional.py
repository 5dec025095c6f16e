"""The conditional VAE: a latent model of X given a conditioning input."""

from __future__ import annotations

from typing import ClassVar, final

from latentinfer.vae.gaussian import GaussianLatentModel

__all__ = ["ConditionalVAE"]


@final
class ConditionalVAE(GaussianLatentModel):
    """Conditional VAE (Sohn et al. 2015): p(x | c) = ∫ p(z) p(x | z, c) dz.

    The encoder sees ``(x, c)``, the decoder ``(z, c)``; the prior is N(0, I) as in the
    linear analysis of Dang et al. (2024). Fit with ``fit(X, C)``; ``transform(X, C)`` gives
    posterior means; ``sample(n, C)`` draws X given ``n`` rows of C.

    The collapse paper's finding: the more X is predictable from C (the stronger their
    correlation), the less the latent is needed and the more dimensions collapse; see
    :func:`latentinfer.diagnostics.run_collapse`.

    ``C`` is a matrix of real-valued conditioning features ``(n, d_c)`` (a 1-D array is one
    feature); encode class labels one-hot first, e.g. ``np.eye(n_classes)[labels]``.

    Arguments as :class:`~latentinfer.vae.gaussian.GaussianLatentModel` (MLP networks only).

    Example:
        >>> import numpy as np
        >>> from latentinfer.vae import ConditionalVAE
        >>> rng = np.random.default_rng(0)
        >>> C = rng.normal(size=(200, 3)); X = C @ rng.normal(size=(3, 6))
        >>> cvae = ConditionalVAE(latent_dim=2, hidden=(16,), seed=0)
        >>> cvae.fit(X, C, max_epochs=2, progress=False).transform(X, C).shape
        (200, 2)

    References:
        Sohn, Lee & Yan, "Learning Structured Output Representation using Deep Conditional
        Generative Models", NeurIPS 2015.
        Dang et al., "Beyond Vanilla Variational Autoencoders: Detecting Posterior Collapse
        in Conditional and Hierarchical Variational Autoencoders", ICLR 2024
        (arXiv:2306.05023).
    """

    n_cond: ClassVar[int] = 1
    cond_names: ClassVar[tuple[str, ...]] = ("C",)
