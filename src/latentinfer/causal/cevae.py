"""CEVAE: the causal effect variational autoencoder (Louizos et al. 2017), the baseline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, final

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Distribution

from latentinfer.causal._latent import (
    LatentConfounderModel,
    RowLikelihood,
    diagonal_normal,
    gaussian_nll,
    linear,
    network,
    positive,
    standard_kl_per_dim,
    trunk,
)
from latentinfer.core.config import TrainConfig
from latentinfer.core.output import LossOutput
from latentinfer.core.trainer import Batch
from latentinfer.nn.mlp import MLP

__all__ = ["CEVAE"]


@final
class CEVAE(LatentConfounderModel):
    """Causal effect VAE: a latent confounder z behind the covariates, treatment and outcome.

    Generative model: ``z ~ N(0, I)``, ``x | z`` (Gaussian for continuous covariates,
    Bernoulli for 0/1 ones), ``t | z ~ Bern(σ(linear(z)))``, ``y | t, z ~ N(f_t(z),
    s_t(z)²)`` with one network per arm. Inference networks: ``q(t | x)``, ``q(y | t, x)``
    (a shared body, one head per arm) and ``q(z | t, y, x)`` (a shared body over
    ``(y, x)``, one head per arm), so that effects can be predicted for a new ``x`` without
    ``t`` or ``y``. Objective: the ELBO plus ``log q(t* | x) + log q(y* | x, t*)`` on the
    observed values (the auxiliary terms that train the inference networks' ``t`` and
    ``y`` parts). The layout follows the paper and Pyro's ``pyro.contrib.cevae``
    (ELU networks, latent 20, three hidden layers of 200).

    The effect of row ``i``: ``E[f_1(z) − f_0(z)]`` over draws of z. For the training
    rows (``effect()``) z is drawn from q(z | x_i, t_i, y_i), the row's factual values; for
    new rows from q(z | x) through q(t | x) and q(y | t, x), as in the paper. y is
    standardised inside and effects are returned in its units.

    As a latent-variable model (the contract every diagnostic takes), its rows are
    ``[x, t, y]`` in its own scale (``latent_data(Y, T, X=X)``): ``encode`` is
    q(z | x, t, y), ``decode`` the joint p(x, t, y | z), ``prior`` N(0, I).

    Args:
        latent_dim: size of z.
        hidden: hidden widths of every network.
        activation: activation name (the paper's ELU by default).
        n_samples: posterior draws per effect.
        train_config: :class:`~latentinfer.core.config.TrainConfig` or a dict of its
            options; defaults: Adam 1e-3, weight decay 1e-4, batches of 100, at most 200
            epochs, early stopping on 10 % of the rows after 10 epochs without progress.
        seed: seeds initialisation, training and the effect draws.

    Example:
        >>> from latentinfer.causal import CEVAE
        >>> from latentinfer.data import causal_sample, load
        >>> s = causal_sample(load("confounded", n=300, seed=0))
        >>> m = CEVAE(latent_dim=4, hidden=(32,), seed=0)
        >>> m = m.fit(s.Y, s.T, X=s.X, max_epochs=3, progress=False)
        >>> m.effect(s.X[:5]).shape
        (5,)

    References:
        Louizos, Shalit, Mooij, Sontag, Zemel & Welling, "Causal Effect Inference with Deep
        Latent-Variable Models", NeurIPS 2017 (arXiv:1705.08821).
    """

    n_cond: ClassVar[int] = 0

    def __init__(
        self,
        latent_dim: int = 20,
        *,
        hidden: Sequence[int] = (200, 200, 200),
        activation: str = "elu",
        n_samples: int = 100,
        train_config: TrainConfig | dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self._check_common(latent_dim, hidden, activation, n_samples, train_config, seed)
        self.latent_dim = latent_dim
        self.hidden = tuple(hidden)
        self.activation = activation
        self.n_samples = n_samples
        self.train_config = train_config
        self.seed = seed

    def _default_training(self) -> TrainConfig:
        return TrainConfig(max_epochs=200, batch_size=100, weight_decay=1e-4, patience=10)

    # ------------------------------------------------------------------ networks
    def _build(self, feature_shape: tuple[int, ...], cond_shapes: list[tuple[int, ...]]) -> None:
        d = feature_shape[0] - 2
        k, h, act = self.latent_dim, self.hidden, self.activation
        scaler = getattr(self, "scaler_", None)
        binary = scaler.binary if scaler is not None else torch.zeros(d, dtype=torch.bool)
        self.register_buffer("binary_", binary.clone(), persistent=False)
        self.n_covariates_ = d
        self.px = network(k, h, 2 * d, act)  # p(x|z): loc (logits), raw scale
        self.pt = nn.Linear(k, 1)  # p(t|z)
        self.py = nn.ModuleList([MLP(k, h, 2, act), MLP(k, h, 2, act)])  # p(y|t,z) per arm
        self.qt = linear(d, 1)  # q(t|x)
        self.qy_body = trunk(d, h, act)  # q(y|t,x)
        self.qy_head = nn.Linear(h[-1], 4)
        self.qz_body = trunk(d + 1, h, act)  # q(z|t,y,x)
        self.qz_head = nn.Linear(h[-1], 4 * k)

    # ------------------------------------------------------------------ pieces
    def _latent_rows(
        self, c: torch.Tensor, t: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        return (torch.cat([c, t[:, None], y[:, None]], dim=1).float(),)

    def _covariate_inputs(self, c: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (c,)

    @staticmethod
    def _by_arm(params: torch.Tensor, t: torch.Tensor, width: int) -> torch.Tensor:
        """Select each row's arm from ``(..., 2 * width)`` head outputs by ``t`` ``(...)``."""
        p0, p1 = params[..., :width], params[..., width:]
        return torch.where((t > 0.5).unsqueeze(-1), p1, p0)

    def _q_z(
        self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.qz_body(torch.cat([y.unsqueeze(-1), x], dim=-1))
        p = self._by_arm(self.qz_head(h), t, 2 * self.latent_dim)
        mu, raw = p.chunk(2, dim=-1)
        return mu, positive(raw)

    def _q_y(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = self._by_arm(self.qy_head(self.qy_body(x)), t, 2)
        return p[..., 0], positive(p[..., 1])

    def _p_y(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-arm outcome means and scales ``(..., 2)`` each."""
        a, b = self.py[0](z), self.py[1](z)
        return torch.stack([a[..., 0], b[..., 0]], -1), positive(
            torch.stack([a[..., 1], b[..., 1]], -1)
        )

    def _split(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        row = batch if isinstance(batch, torch.Tensor) else batch[0]
        d = self.n_covariates_
        return row[:, :d], row[:, d], row[:, d + 1]

    # ------------------------------------------------------------------ contract
    def prior(self, *cond: torch.Tensor) -> Distribution:
        dev = self._device()
        k = self.latent_dim
        return diagonal_normal(torch.zeros(k, device=dev), torch.ones(k, device=dev))

    def encode(self, x: torch.Tensor, *cond: torch.Tensor) -> Distribution:
        """q(z | x, t, y) for latent rows ``x`` = ``[covariates, t, y]`` ``(B, d + 2)``."""
        cov, t, y = self._split(x)
        return diagonal_normal(*self._q_z(cov, t, y))

    def decode(self, z: torch.Tensor, *cond: torch.Tensor) -> Distribution:
        """p(x, t, y | z) for ``z`` ``(..., B, latent_dim)``: a :class:`RowLikelihood`."""
        out = self.px(z)
        loc, raw = out.chunk(2, dim=-1)
        y_loc, y_scale = self._p_y(z)
        return RowLikelihood(loc, positive(raw), self.binary_, self.pt(z)[..., 0], y_loc, y_scale)

    def loss(self, batch: Batch) -> LossOutput:
        """Negative ELBO + the auxiliary −log q(t | x) − log q(y | t, x), per row, averaged."""
        x, t, y = self._split(batch)
        mu, sigma = self._q_z(x, t, y)
        z = torch.addcmul(mu, sigma, torch.randn_like(sigma))
        lik = self.decode(z)
        assert isinstance(lik, RowLikelihood)
        parts = lik.log_prob_parts(torch.cat([x, t[:, None], y[:, None]], dim=1))
        kl_per_dim = standard_kl_per_dim(mu, sigma)
        aux_t = F.binary_cross_entropy_with_logits(self.qt(x)[:, 0], t)
        qy_loc, qy_scale = self._q_y(x, t)
        aux_y = gaussian_nll(y, qy_loc, qy_scale).mean()
        out = {
            "reconstruction_x": -parts["x"].mean(),
            "reconstruction_t": -parts["t"].mean(),
            "reconstruction_y": -parts["y"].mean(),
            "kl": kl_per_dim.sum(),
            "auxiliary_t": aux_t,
            "auxiliary_y": aux_y,
        }
        total = torch.stack(list(out.values())).sum()
        return LossOutput(total=total, parts=out, stats={"kl_per_dim": kl_per_dim})

    # ------------------------------------------------------------------ effects
    def _potential_outcomes(
        self, rows: tuple[torch.Tensor, ...], factual: bool, n_samples: int
    ) -> torch.Tensor:
        dev = self._device()
        outs = []
        for sl in self._chunks(rows[0].shape[0], n_samples):
            if factual:
                x, t, y = self._split(rows[0][sl].to(dev))
                mu, sigma = self._q_z(x, t, y)
            else:
                x = rows[0][sl].to(dev).expand(n_samples, -1, -1)  # (S, b, d)
                t = torch.bernoulli(torch.sigmoid(self.qt(x)[..., 0]))
                qy_loc, qy_scale = self._q_y(x, t)
                y = torch.normal(qy_loc, qy_scale)
                mu, sigma = self._q_z(x, t, y)
            z = mu + sigma * torch.randn((n_samples, *mu.shape[-2:]), device=dev)
            outs.append(self._p_y(z)[0].cpu())
        return torch.cat(outs, dim=1)
