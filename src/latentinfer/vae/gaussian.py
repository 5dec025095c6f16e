"""One Gaussian latent layer with an amortised encoder: the shared body of VAE, ARDVAE, CVAE.

:class:`GaussianLatentModel` is abstract. The final classes (:class:`~latentinfer.vae.VAE`,
:class:`~latentinfer.vae.ARDVAE`, :class:`~latentinfer.vae.ConditionalVAE`) differ only in
the prior's variances and in conditioning, which they set through ``_prior_logvar`` and
``n_cond``; everything else (networks, likelihoods, the ELBO) is here, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from latentinfer.core.config import TrainConfig
from latentinfer.core.errors import ConfigError, ShapeError
from latentinfer.core.output import LossOutput
from latentinfer.core.params import refuse_unknown_arguments
from latentinfer.core.seeding import resolve_seed
from latentinfer.core.trainer import Batch
from latentinfer.core.validation import (
    check_bool,
    check_choice,
    check_number,
    check_widths,
    did_you_mean,
)
from latentinfer.inference.elbo import gaussian_kl_per_dim, gaussian_log_prob_per_dim
from latentinfer.nn.conv import ConvDecoder, ConvEncoder
from latentinfer.nn.mlp import MLP
from latentinfer.vae.base import LatentVariableModel
from latentinfer.vae.likelihoods import Likelihood, make_likelihood

__all__ = ["GaussianLatentModel"]

LIKELIHOODS = ("auto", "gaussian", "bernoulli", "categorical")
ARCHITECTURES = ("auto", "mlp", "conv")
POSTERIOR_VARIANCES = ("amortized", "shared")


def _mean_gaussian_kl_per_dim(
    mu: torch.Tensor, logvar: torch.Tensor, prior_logvar: torch.Tensor | float
) -> torch.Tensor:
    """``gaussian_kl_per_dim(mu, logvar, 0, prior_logvar).mean(0)``, shape ``(D,)``.

    For the standard normal prior this is ½ (mean(μ² + σ² − log σ²) − 1), three kernels over
    the batch instead of six (the training loss runs it every step).
    """
    if isinstance(prior_logvar, float) and prior_logvar == 0.0:
        return torch.addcmul(logvar.exp() - logvar, mu, mu).mean(0).sub(1.0).mul(0.5)
    return gaussian_kl_per_dim(mu, logvar, 0.0, prior_logvar).mean(0)


class GaussianLatentModel(LatentVariableModel):
    """Abstract: z ~ N(0, diag v), x | z ~ likelihood(decoder(z)), q(z|x) = N(μ(x), diag σ²(x)).

    Args:
        latent_dim: size of z.
        likelihood: ``"bernoulli"`` (data in [0, 1]), ``"gaussian"`` (real data, learned
            per-feature scale unless ``obs_scale``), ``"categorical"`` (integer codes
            0..K−1, K = ``n_categories``) or ``"auto"`` (Bernoulli when every value lies in
            [0, 1], else Gaussian).
        n_categories: K for the categorical likelihood.
        obs_scale: a fixed standard deviation for the Gaussian likelihood.
        architecture: ``"mlp"``, ``"conv"`` (images ``(C, H, W)``) or ``"auto"`` (conv for
            rows with 2 or 3 dimensions, MLP otherwise).
        hidden: hidden widths of the MLPs (the decoder mirrors them); ``()`` gives linear
            encoder and decoder maps.
        conv_channels: channels of the convolutional encoder (mirrored in the decoder).
        activation: activation name.
        posterior_variance: ``"amortized"`` (σ²(x) from the encoder), ``"shared"`` (one
            learned σ² per dimension, the same for every x), or a number (fixed σ²).
        beta: weight of the KL term (1: the ELBO; β-VAE otherwise).
        analytic_kl: closed-form KL (else a one-sample estimate).
        train_config: :class:`~latentinfer.core.config.TrainConfig` (or a dict of its options);
            ``fit(X, max_epochs=...)`` overrides single options for one fit.
        seed: seeds initialisation and training (``None``: fresh; the used one is ``seed_``).
    """

    def __init__(
        self,
        latent_dim: int = 16,
        *,
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
        **unexpected: Any,
    ) -> None:
        if type(self) is GaussianLatentModel:
            raise TypeError(
                "GaussianLatentModel is abstract; use VAE, ARDVAE, ConditionalVAE or "
                "HierarchicalVAE."
            )
        refuse_unknown_arguments(self, unexpected)  # VAE, ConditionalVAE: named as themselves
        super().__init__()
        check_number(latent_dim, name="latent_dim", low=1, integer=True)
        check_choice(likelihood, name="likelihood", choices=LIKELIHOODS)
        check_number(n_categories, name="n_categories", low=2, integer=True, allow_none=True)
        check_number(obs_scale, name="obs_scale", low=0, low_inclusive=False, allow_none=True)
        check_choice(architecture, name="architecture", choices=ARCHITECTURES)
        check_choice(activation, name="activation", choices=("relu", "gelu", "tanh", "silu", "elu"))
        if isinstance(posterior_variance, str):
            if posterior_variance not in POSTERIOR_VARIANCES:
                raise ConfigError(
                    f"posterior_variance must be one of "
                    f"{', '.join(map(repr, POSTERIOR_VARIANCES))} or a positive number (a fixed "
                    f"variance); got {posterior_variance!r}."
                    f"{did_you_mean(posterior_variance, POSTERIOR_VARIANCES)}"
                )
        else:
            check_number(posterior_variance, name="posterior_variance", low=0, low_inclusive=False)
        check_number(beta, name="beta", low=0)
        check_bool(analytic_kl, name="analytic_kl")
        if likelihood == "categorical" and n_categories is None:
            raise ConfigError(
                "likelihood='categorical' needs n_categories (an int ≥ 2; on the command line "
                "--model-option n_categories=K)."
            )
        for name, widths in (("hidden", hidden), ("conv_channels", conv_channels)):
            check_widths(widths, name=name, example="(256, 256)", allow_empty=True)
        if seed is not None:
            resolve_seed(seed)
        self.latent_dim = latent_dim
        self.likelihood = likelihood
        self.n_categories = n_categories
        self.obs_scale = obs_scale
        self.architecture = architecture
        self.hidden = tuple(hidden)
        self.conv_channels = tuple(conv_channels)
        self.activation = activation
        self.posterior_variance = posterior_variance
        self.beta = beta
        self.analytic_kl = analytic_kl
        self.train_config = train_config
        self.seed = seed

    @property
    def latent_groups(self) -> dict[str, slice]:
        """Named slices of the latent vector (one group, ``"z"``, for a single level)."""
        return {"z": slice(0, self.latent_dim)}

    # ------------------------------------------------------------------ options
    def _resolve_likelihood(self, x: torch.Tensor) -> str:
        if self.likelihood != "auto":
            return self.likelihood
        lo, hi = float(x.min()), float(x.max())
        return "bernoulli" if lo >= 0.0 and hi <= 1.0 else "gaussian"

    def _resolve_architecture(self, feature_shape: tuple[int, ...]) -> str:
        images = len(feature_shape) == 3
        if images and self.architecture != "mlp":
            c, h, w = feature_shape
            if w in (1, 3, 4) and c not in (1, 3, 4):
                raise ShapeError(
                    f"X looks like channels-last images, rows of shape {feature_shape} (H, W, C); "
                    "pass (n, C, H, W), e.g. X.transpose(0, 3, 1, 2), or flatten the rows and "
                    "use architecture='mlp'."
                )
            if min(h, w) < 4:
                if self.architecture == "conv":
                    raise ShapeError(
                        f"architecture='conv' needs image rows (C, H, W) with H, W ≥ 4; got rows "
                        f"of shape {feature_shape}. Use architecture='mlp'."
                    )
                return "mlp"
        if self.architecture == "auto":
            return "conv" if images else "mlp"
        if self.architecture == "conv" and not images:
            raise ConfigError(
                f"architecture='conv' needs image rows of shape (C, H, W) (or (H, W)); got rows "
                f"of shape {feature_shape}. Reshape X to (n, C, H, W) or use architecture='mlp'."
            )
        return self.architecture

    def _prepare_features(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:  # (n, H, W) images: add the channel
            return x.unsqueeze(1)
        return x

    def _check_support(self, x: torch.Tensor, *, name: str, fitting: bool) -> None:
        if fitting:
            self.likelihood_ = self._resolve_likelihood(x)
        lik = getattr(self, "lik", None)
        if lik is None or fitting:
            lik = make_likelihood(
                self.likelihood_, tuple(x.shape[1:]), n_categories=self.n_categories
            )
        lik.check(x, name=name, fitting=fitting)

    # ------------------------------------------------------------------ networks
    def _build(self, feature_shape: tuple[int, ...], cond_shapes: list[tuple[int, ...]]) -> None:
        for name in ("encoder", "decoder", "lik", "shared_logvar"):
            if name in self._modules or name in self._parameters or name in self._buffers:
                delattr(self, name)
        self.architecture_ = self._resolve_architecture(feature_shape)
        if not hasattr(self, "likelihood_"):
            self.likelihood_ = "gaussian" if self.likelihood == "auto" else self.likelihood
        self.cond_dim_ = int(sum(int(np.prod(c)) for c in cond_shapes))
        lik: Likelihood = make_likelihood(
            self.likelihood_, feature_shape, n_categories=self.n_categories, scale=self.obs_scale
        )
        self.lik = lik
        m = lik.params_per_feature
        n_feat = int(np.prod(feature_shape))
        d = self.latent_dim
        amortized_var = self.posterior_variance == "amortized"
        enc_out = 2 * d if amortized_var else d
        if self.architecture_ == "mlp":
            self.encoder: nn.Module = MLP(
                n_feat + self.cond_dim_, self.hidden, enc_out, self.activation
            )
            self.decoder: nn.Module = MLP(
                d + self.cond_dim_, self.hidden[::-1], n_feat * m, self.activation
            )
        else:
            if self.cond_dim_:
                raise ConfigError(
                    "conditioning is supported with architecture='mlp' only; flatten the images "
                    "or pass architecture='mlp'."
                )
            hidden = self.hidden[0] if self.hidden else 256
            self.encoder = ConvEncoder(
                feature_shape, enc_out, self.conv_channels, hidden, self.activation
            )
            self.decoder = ConvDecoder(
                d, feature_shape, self.conv_channels, hidden, self.activation, out_multiplier=m
            )
        if self.posterior_variance == "shared":
            self.shared_logvar = nn.Parameter(torch.zeros(d))
        elif not amortized_var:
            self.register_buffer(
                "shared_logvar", torch.full((d,), float(np.log(float(self.posterior_variance))))
            )
        self._out_shape = (*feature_shape, m) if m > 1 else feature_shape
        self._reset_prior(d)

    def _reset_prior(self, latent_dim: int) -> None:
        """Hook: create prior buffers (default: none, a standard normal prior)."""

    def _prior_logvar(self) -> torch.Tensor | float:
        """log v of the prior N(0, diag v); 0.0 means a standard normal."""
        return 0.0

    # ------------------------------------------------------------------ contract
    def _split(self, batch: Batch) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        if isinstance(batch, torch.Tensor):
            return batch, ()
        return batch[0], tuple(batch[1:])

    def encode_params(
        self, x: torch.Tensor, *cond: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior means and log-variances, each of shape ``(B, latent_dim)``."""
        flat = self.architecture_ == "conv" or x.ndim == 2
        inp = x if flat else x.reshape(x.shape[0], -1)
        if cond:
            inp = torch.cat([inp, *(c.reshape(c.shape[0], -1) for c in cond)], dim=-1)
        h = self.encoder(inp)
        if self.posterior_variance == "amortized":
            mu, logvar = h.chunk(2, dim=-1)
            return mu, logvar
        return h, self.shared_logvar.expand_as(h)

    def decode_raw(self, z: torch.Tensor, *cond: torch.Tensor) -> torch.Tensor:
        """Raw likelihood parameters for ``z`` of shape ``(..., B, latent_dim)``."""
        lead = z.shape[:-1]
        inp = z
        if cond:
            c = torch.cat([c.reshape(c.shape[0], -1) for c in cond], dim=-1)
            inp = torch.cat([z, c.expand(*lead, c.shape[-1]).to(z.dtype)], dim=-1)
        out = self.decoder(inp)
        shape = (*lead, *self._out_shape)
        return out if out.shape == shape else out.reshape(shape)

    def prior(self, *cond: torch.Tensor) -> Distribution:
        d = self.latent_dim
        dev = self._device()
        loc = torch.zeros(d, device=dev)
        plv = self._prior_logvar()
        scale = torch.exp(0.5 * torch.as_tensor(plv, device=dev)).expand(d)
        if cond:
            n = cond[0].shape[0]
            loc, scale = loc.expand(n, d), scale.expand(n, d)
        return Independent(Normal(loc, scale), 1)

    def encode(self, x: torch.Tensor, *cond: torch.Tensor) -> Distribution:
        mu, logvar = self.encode_params(x, *cond)
        return Independent(Normal(mu, torch.exp(0.5 * logvar)), 1)

    def decode(self, z: torch.Tensor, *cond: torch.Tensor) -> Distribution:
        return self.lik.distribution(self.decode_raw(z, *cond))

    def loss(self, batch: Batch) -> LossOutput:
        """Negative ELBO per row, averaged: ``reconstruction`` + ``kl`` (β-weighted)."""
        x, cond = self._split(batch)
        mu, logvar = self.encode_params(x, *cond)
        std = torch.exp(0.5 * logvar)
        z = torch.addcmul(mu, std, torch.randn_like(std))  # μ + σ ε
        rec = self.lik.nll(self.decode_raw(z, *cond), x)
        plv = self._prior_logvar()
        if self.analytic_kl:
            kl_per_dim = _mean_gaussian_kl_per_dim(mu, logvar, plv)
        else:
            kl_dim = gaussian_log_prob_per_dim(z, mu, logvar) - gaussian_log_prob_per_dim(
                z, 0.0, plv
            )
            kl_per_dim = kl_dim.mean(0)
        kl = kl_per_dim.sum()
        if self.beta != 1.0:
            kl = self.beta * kl
        return LossOutput(
            total=rec + kl,
            parts={"reconstruction": rec, "kl": kl},
            stats={"kl_per_dim": kl_per_dim},
        )

    def _fitted_state(self) -> dict[str, Any]:
        return {"likelihood_": self.likelihood_, "architecture_": self.architecture_}

    def _load_fitted_state(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)
