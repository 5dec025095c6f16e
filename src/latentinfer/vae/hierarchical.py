"""A two-level (Markovian) hierarchical VAE, the MHVAE analysed for posterior collapse.

Generative model: z₂ ~ N(0, I), z₁ | z₂ ~ N(m(z₂), diag s²), x | z₁ ~ p(x | decoder(z₁)).
Inference (bottom-up): q(z₁ | x) = N(μ₁(x), diag σ₁²), q(z₂ | z₁) = N(μ₂(z₁), diag σ₂²(z₁)).
Objective: E_q[log p(x|z₁)] − β₁ E_q[log q(z₁|x) − log p(z₁|z₂)] − β₂ E_q[KL(q(z₂|z₁) ‖ p(z₂))].

The latent vector of the contract is the concatenation ``[z₁, z₂]`` (``latent_groups`` names
the slices); ``encode`` and ``prior`` return two-level distributions over it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, final

import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal, constraints
from torch.types import _size

from latentinfer.core.config import TrainConfig
from latentinfer.core.output import LossOutput
from latentinfer.core.trainer import Batch
from latentinfer.core.validation import check_choice, check_number
from latentinfer.inference.elbo import gaussian_kl_per_dim, gaussian_log_prob_per_dim
from latentinfer.nn.mlp import MLP
from latentinfer.vae.gaussian import GaussianLatentModel

__all__ = ["HierarchicalVAE", "TwoLevelDistribution"]


class TwoLevelDistribution(Distribution):
    """A distribution over ``[z₁, z₂]`` built as ``first`` then ``second | first``.

    Args:
        first: distribution of the level drawn first, event shape ``(d_first,)``.
        second: maps a sample of the first level to the conditional distribution of the
            other level, event shape ``(d_second,)``.
        first_is_z1: whether the first level is z₁ (inference) or z₂ (the prior).
        mean_of_second: E of the second level given the first level's mean (a plug-in
            approximation of the marginal mean, exact when ``second`` is linear).
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {}
    has_rsample = True

    def __init__(
        self,
        first: Distribution,
        second: Callable[[torch.Tensor], Distribution],
        *,
        first_is_z1: bool,
    ) -> None:
        self.first, self.second, self.first_is_z1 = first, second, first_is_z1
        d_first = first.event_shape[0]
        probe = second(first.mean)
        self._d = (d_first, probe.event_shape[0])
        super().__init__(first.batch_shape, torch.Size([sum(self._d)]), validate_args=False)
        self._mean_second = probe.mean

    def _join(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.cat([a, b] if self.first_is_z1 else [b, a], dim=-1)

    def _parts(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d1 = self._d[0] if self.first_is_z1 else self._d[1]
        z1, z2 = z[..., :d1], z[..., d1:]
        return (z1, z2) if self.first_is_z1 else (z2, z1)

    def rsample(self, sample_shape: _size = torch.Size()) -> torch.Tensor:  # noqa: B008
        a = self.first.rsample(sample_shape)
        return self._join(a, self.second(a).rsample())

    def sample(self, sample_shape: _size = torch.Size()) -> torch.Tensor:  # noqa: B008
        with torch.no_grad():
            return self.rsample(sample_shape)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        a, b = self._parts(value)
        return self.first.log_prob(a) + self.second(a).log_prob(b)

    @property
    def mean(self) -> torch.Tensor:
        return self._join(self.first.mean, self._mean_second)


def _normal(mu: torch.Tensor, logvar: torch.Tensor) -> Distribution:
    return Independent(Normal(mu, torch.exp(0.5 * logvar)), 1)


@final
class HierarchicalVAE(GaussianLatentModel):
    """Two-level hierarchical VAE with a Markov chain of latents (MHVAE).

    The x ↔ z₁ networks, likelihood and ``posterior_variance`` option (the first level's
    encoder variance: ``"amortized"``, ``"shared"`` learnable, or a fixed number) are those of
    :class:`~latentinfer.vae.gaussian.GaussianLatentModel`, with ``latent_dim`` the size of
    z₁. Dang et al. (2024) show that a learnable first-level encoder variance is a cause of
    collapse of z₂, and that fixing it small reduces collapse: compare
    ``posterior_variance="shared"`` with ``posterior_variance=0.01`` using
    :func:`latentinfer.diagnostics.run_collapse`.

    Args:
        latent_dim: size of z₁.
        top_latent_dim: size of z₂.
        top_hidden: hidden widths of the z₁ ↔ z₂ networks (``()``: linear).
        top_beta: β₂, the weight of the top-level KL (``beta`` is β₁).
        z1_scale: fixed standard deviation of p(z₁|z₂); ``None`` learns one per dimension.
        top_posterior_variance: variance of q(z₂|z₁): ``"amortized"`` (from the network),
            ``"shared"`` (learned, the same for every z₁) or a fixed number.
        other arguments: as :class:`~latentinfer.vae.gaussian.GaussianLatentModel`.

    Example:
        >>> import numpy as np
        >>> from latentinfer.vae import HierarchicalVAE
        >>> X = np.random.default_rng(0).normal(size=(300, 6))
        >>> hvae = HierarchicalVAE(latent_dim=3, top_latent_dim=2, hidden=(16,), seed=0)
        >>> hvae.fit(X, max_epochs=2, progress=False).transform(X).shape
        (300, 5)

    References:
        Dang et al., "Beyond Vanilla Variational Autoencoders: Detecting Posterior Collapse
        in Conditional and Hierarchical Variational Autoencoders", ICLR 2024
        (arXiv:2306.05023).
        Sønderby et al., "Ladder Variational Autoencoders", NeurIPS 2016.
    """

    def __init__(
        self,
        latent_dim: int = 16,
        *,
        top_latent_dim: int = 8,
        top_hidden: Sequence[int] = (64,),
        top_beta: float = 1.0,
        z1_scale: float | None = None,
        top_posterior_variance: str | float = "amortized",
        likelihood: str = "auto",
        n_categories: int | None = None,
        obs_scale: float | None = None,
        architecture: str = "auto",
        hidden: Sequence[int] = (256, 256),
        conv_channels: Sequence[int] = (32, 32, 64, 64),
        activation: str = "relu",
        posterior_variance: str | float = "amortized",
        beta: float = 1.0,
        analytic_kl: bool = True,
        train_config: TrainConfig | dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            latent_dim,
            likelihood=likelihood,
            n_categories=n_categories,
            obs_scale=obs_scale,
            architecture=architecture,
            hidden=hidden,
            conv_channels=conv_channels,
            activation=activation,
            posterior_variance=posterior_variance,
            beta=beta,
            analytic_kl=analytic_kl,
            train_config=train_config,
            seed=seed,
        )
        check_number(top_latent_dim, name="top_latent_dim", low=1, integer=True)
        check_number(top_beta, name="top_beta", low=0)
        check_number(z1_scale, name="z1_scale", low=0, low_inclusive=False, allow_none=True)
        self.top_latent_dim = top_latent_dim
        self.top_hidden = tuple(top_hidden)
        self.top_beta = top_beta
        self.z1_scale = z1_scale
        if isinstance(top_posterior_variance, str):
            check_choice(
                top_posterior_variance,
                name="top_posterior_variance",
                choices=("amortized", "shared"),
            )
        else:
            check_number(
                top_posterior_variance, name="top_posterior_variance", low=0, low_inclusive=False
            )
        self.top_posterior_variance = top_posterior_variance

    @property
    def latent_groups(self) -> dict[str, slice]:
        """Slices of the concatenated latent vector: ``{"z1": ..., "z2": ...}``."""
        d1 = self.latent_dim
        return {"z1": slice(0, d1), "z2": slice(d1, d1 + self.top_latent_dim)}

    def transform(self, X: Any, *cond: Any) -> Any:
        """Posterior means of both levels, ``(n_rows, latent_dim + top_latent_dim)``: z₁'s
        columns, then z₂'s (:attr:`latent_groups` gives the slices)."""
        return super().transform(X, *cond)

    def _build(self, feature_shape: tuple[int, ...], cond_shapes: list[tuple[int, ...]]) -> None:
        super()._build(feature_shape, cond_shapes)
        for name in ("top_encoder", "top_decoder", "z1_logvar", "z2_logvar"):
            if name in self._modules or name in self._parameters or name in self._buffers:
                delattr(self, name)
        d1, d2 = self.latent_dim, self.top_latent_dim
        amortized = self.top_posterior_variance == "amortized"
        self.top_encoder = MLP(d1, self.top_hidden, 2 * d2 if amortized else d2, self.activation)
        if self.top_posterior_variance == "shared":
            self.z2_logvar = nn.Parameter(torch.zeros(d2))
        elif not amortized:
            self.register_buffer(
                "z2_logvar", torch.full((d2,), math.log(float(self.top_posterior_variance)))
            )
        self.top_decoder = MLP(d2, self.top_hidden[::-1], d1, self.activation)
        if self.z1_scale is None:
            self.z1_logvar = nn.Parameter(torch.zeros(d1))
        else:
            self.register_buffer("z1_logvar", torch.full((d1,), 2.0 * math.log(self.z1_scale)))

    # ------------------------------------------------------------------ pieces
    def _q_z2(self, z1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.top_encoder(z1)
        if self.top_posterior_variance == "amortized":
            mu, logvar = h.chunk(2, dim=-1)
            return mu, logvar
        return h, self.z2_logvar.expand_as(h)

    def _p_z1(self, z2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu = self.top_decoder(z2)
        return mu, self.z1_logvar.expand_as(mu)

    # ------------------------------------------------------------------ contract
    def prior(self, *cond: torch.Tensor) -> Distribution:
        dev = self._device()
        d2 = self.top_latent_dim
        top = Independent(Normal(torch.zeros(d2, device=dev), torch.ones(d2, device=dev)), 1)
        return TwoLevelDistribution(top, lambda z2: _normal(*self._p_z1(z2)), first_is_z1=False)

    def encode(self, x: torch.Tensor, *cond: torch.Tensor) -> Distribution:
        mu, logvar = self.encode_params(x, *cond)
        return TwoLevelDistribution(
            _normal(mu, logvar), lambda z1: _normal(*self._q_z2(z1)), first_is_z1=True
        )

    def decode(self, z: torch.Tensor, *cond: torch.Tensor) -> Distribution:
        return self.lik.distribution(self.decode_raw(z[..., : self.latent_dim], *cond))

    def loss(self, batch: Batch) -> LossOutput:
        """Negative two-level ELBO: ``reconstruction`` + ``kl_z1`` (β₁) + ``kl_z2`` (β₂)."""
        x, cond = self._split(batch)
        mu1, lv1 = self.encode_params(x, *cond)
        z1 = mu1 + torch.exp(0.5 * lv1) * torch.randn_like(mu1)
        mu2, lv2 = self._q_z2(z1)
        z2 = mu2 + torch.exp(0.5 * lv2) * torch.randn_like(mu2)
        log_lik = self.lik.log_prob(self.decode_raw(z1, *cond), x)
        pm1, plv1 = self._p_z1(z2)
        kl1_dim = (
            gaussian_log_prob_per_dim(z1, mu1, lv1) - gaussian_log_prob_per_dim(z1, pm1, plv1)
        ).mean(0)
        # For diagnostics, a per-dimension divergence of level 1 that is never negative:
        # KL(q(z₁|x) ‖ p(z₁|z₂)) in closed form at the z₂ drawn (the sampled term above is
        # an unbiased estimate of the ELBO's level-1 term, but per dimension it can be < 0).
        kl1_diag = gaussian_kl_per_dim(mu1, lv1, pm1, plv1).detach().mean(0)
        if self.analytic_kl:
            kl2_dim = gaussian_kl_per_dim(mu2, lv2).mean(0)
        else:
            kl2_dim = (
                gaussian_log_prob_per_dim(z2, mu2, lv2) - gaussian_log_prob_per_dim(z2, 0.0, 0.0)
            ).mean(0)
        rec = -log_lik.mean()
        kl1 = self.beta * kl1_dim.sum()
        kl2 = self.top_beta * kl2_dim.sum()
        return LossOutput(
            total=rec + kl1 + kl2,
            parts={"reconstruction": rec, "kl_z1": kl1, "kl_z2": kl2},
            stats={"kl_per_dim": torch.cat([kl1_diag, kl2_dim.detach()])},
        )
