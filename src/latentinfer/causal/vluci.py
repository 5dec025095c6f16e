"""VLUCI: variational learning of an unobserved confounder for counterfactual inference.

Zhao, Huang, Wu, Peng & Sun, "VLUCI: Variational Learning of Unobserved Confounders for
Counterfactual Inference" (arXiv:2308.00904). No official code or table values exist; the
model below is our reading, derived from first principles (see :class:`VLUCI`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any, ClassVar, final

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Distribution

from latentinfer.causal._covariates import controls_per_row, effect_covariates, mean_over_controls
from latentinfer.causal._latent import (
    LatentConfounderModel,
    RowLikelihood,
    diagonal_normal,
    gaussian_nll,
    network,
    positive,
    standard_kl_per_dim,
    trunk,
)
from latentinfer.causal.base import CausalData
from latentinfer.causal.learners import TLearner, check_regressor
from latentinfer.core.config import TrainConfig
from latentinfer.core.errors import ConfigError, NotFittedError
from latentinfer.core.output import LossOutput
from latentinfer.core.seeding import derive_seed, rng_scope
from latentinfer.core.trainer import Batch
from latentinfer.core.validation import check_number
from latentinfer.nn.mlp import MLP

__all__ = ["VLUCI"]

_SCALE_SPEED = 10.0


def _is_cate_estimator(obj: Any) -> bool:
    return callable(getattr(obj, "fit", None)) and callable(getattr(obj, "effect", None))


@final
class VLUCI(LatentConfounderModel):
    """VLUCI: a posterior over an unobserved confounder U, alone or plugged into any CATE learner.

    **Our reading of the paper.** Covariates split into observed confounders ``R`` and,
    optionally, *proxies* ``M`` (columns named by ``proxies``: noisy measurements of the
    hidden confounder, which cause neither T nor Y). The generative model is

    - ``U ~ N(0, I_k)``, independent of ``R``: U carries only what the observed
      confounders do not explain (disentangled from them);
    - ``M | U, R ~ N(g(U, R), diag s²)`` (Bernoulli for 0/1 proxies): the measurement
      model, a factor model in U given R;
    - ``T | R, U ~ Bern(σ(h(R, U)))``;
    - ``Y | R, U, T ~ N(f_T(R, U), σ_T²)``, one network per arm.

    It is *doubly variational*: (1) ``q_φ(U | R, M, T, Y)`` approximates the posterior of
    the confounder given a row's factual treatment and outcome (trained by the ELBO of
    ``log p(M, T, Y | R)``); (2) ``q_ψ(U | R, M)`` approximates the covariates-only posterior
    ``p(U | R, M) = ∫ p(U | R, M, T, Y) p(T, Y | R, M)``, for rows whose T and Y are not
    known, trained by ``E KL(q_φ ‖ q_ψ)`` with q_φ held fixed (the moment-matching
    projection of the mixture of q_φ over the rows' outcomes). A small penalty,
    ``independence`` × the mean squared correlation between draws of U and the columns of
    R, keeps U disentangled from R in the data as well as in the prior.

    **Why the joint model.** A confounder inferred from the covariates alone, E[U | X], is a
    function of X, so appending it to X gives a flexible learner nothing new. VLUCI gains
    from modelling X, T and Y jointly through U: the proxies pin U down (the factor /
    measurement-model view under which proxy adjustment identifies effects: Kuroki & Pearl
    2014; Miao, Geng & Tchetgen Tchetgen 2018), and a row's own T and Y sharpen its
    posterior. Without proxies U is identified only through the parametric form of the
    model, weakly; the benchmark shows both cases.

    **Effects.** Alone: ``τ_i = E[f_1(R_i, U) − f_0(R_i, U)]`` over draws of U from q_φ
    (training rows: ``effect()``) or q_ψ (new rows: ``effect(X)``). As a plug-in
    (``base_estimator``): for each of ``n_plugin_fits`` posterior draws Û⁽ˢ⁾ of the training
    rows' confounder the base estimator is fitted on ``X⁺ = [X, W, Û⁽ˢ⁾]``; if q_φ is the
    exact posterior, ``(X, T, Y, Û)`` has the law of ``(X, T, Y, U)``, so each fit learns the
    outcome's dependence on the confounder itself. A row's effect is the mean over s of
    ``base⁽ˢ⁾.effect([x, û⁽ˢ⁾])`` (û from q_φ for training rows, from q_ψ for new ones);
    ``effect_interval`` takes the quantiles over s. The intervals reflect the posterior
    over U (and, for the plug-in, refitting); they are not confidence intervals for the
    networks' weights.

    **Saving.** ``save`` stores the networks (safetensors) and their description (JSON),
    never a pickle. A saved plug-in keeps its base fits only where they are linear in
    ``[X, Û]``: a scikit-learn linear regressor (alone, so in a T-learner, or in our
    :class:`~latentinfer.causal.TLearner` / :class:`~latentinfer.causal.SLearner`) or
    :class:`~latentinfer.causal.OLS`, stored as one coefficient vector per fit; a loaded
    model then gives ``effect(X)`` for new rows as the fitted one did. Other bases
    (gradient boosting, EconML's, ...) are not stored: a loaded model raises
    :class:`~latentinfer.core.errors.NotFittedError` for effects; refit it. A loaded model
    holds no training rows, so ``effect()`` needs ``X`` either way.

    As a latent-variable model it is conditional: rows ``[M, t, y]`` given the condition
    ``R`` (``latent_data(Y, T, X=X)`` returns the pair): ``encode`` is q_φ, ``decode``
    p(M, t, y | U, R), ``prior`` N(0, I).

    Args:
        latent_dim: size of U.
        base_estimator: ``None`` (VLUCI alone), a CATE estimator with ``fit(Y, T, X=...)``
            and ``effect(X)`` (ours, EconML's, ...), or a regressor with ``fit``/``predict``
            (wrapped in a :class:`~latentinfer.causal.TLearner`). Deep-copied per fit.
        proxies: columns of ``[X, W]`` that are noisy measurements of U (``None``: none).
        hidden: hidden widths of every network.
        activation: activation name.
        independence: weight of the decorrelation penalty between U and R (0: none).
        n_particles: importance samples of the bound (Burda et al.'s IWAE; 1: the ELBO)
            and proposals per posterior draw (resampled by their weights).
        n_samples: posterior draws per effect when used alone.
        n_plugin_fits: posterior draws, each with its own base fit, for the plug-in.
        train_config: :class:`~latentinfer.core.config.TrainConfig` or a dict of its
            options; defaults: Adam 1e-3 on a cosine schedule (to 0 at the last step),
            batches of 128, 2500 optimiser steps (or 300 epochs, whichever comes first), no
            validation split and no early stopping (the final weights are kept).
        seed: seeds initialisation, training and the posterior draws.

    Example:
        >>> from sklearn.linear_model import LinearRegression
        >>> from latentinfer.causal import VLUCI
        >>> from latentinfer.data import causal_sample, load
        >>> s = causal_sample(load("confounded_proxies", n=300, seed=0))
        >>> m = VLUCI(base_estimator=LinearRegression(), proxies=s.proxy_columns,
        ...           hidden=(16,), n_plugin_fits=3, seed=0)
        >>> m = m.fit(s.Y, s.T, X=s.X, max_epochs=3, progress=False)
        >>> lo, hi = m.effect_interval(alpha=0.1)
        >>> lo.shape, bool((lo <= hi).all())
        ((300,), True)

    References:
        Zhao, Huang, Wu, Peng & Sun, "VLUCI: Variational Learning of Unobserved
        Confounders for Counterfactual Inference", arXiv:2308.00904 (2023).
        Miao, Geng & Tchetgen Tchetgen, "Identifying causal effects with proxy variables
        of an unmeasured confounder", Biometrika 2018.
    """

    n_cond: ClassVar[int] = 1
    cond_names: ClassVar[tuple[str, ...]] = ("covariates",)

    def __init__(
        self,
        latent_dim: int = 1,
        *,
        base_estimator: Any = None,
        proxies: Sequence[int] | None = None,
        hidden: Sequence[int] = (64, 64),
        activation: str = "elu",
        independence: float = 1.0,
        n_particles: int = 8,
        n_samples: int = 100,
        n_plugin_fits: int = 10,
        train_config: TrainConfig | dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self._check_common(latent_dim, hidden, activation, n_samples, train_config, seed)
        if base_estimator is not None and not _is_cate_estimator(base_estimator):
            check_regressor(base_estimator, name="base_estimator")
        if proxies is not None:
            if isinstance(proxies, (str, bytes)) or not isinstance(proxies, Sequence):
                raise ConfigError(
                    f"proxies must be a sequence of column indices of [X, W], or None; got "
                    f"{proxies!r}."
                )
            for p in proxies:
                check_number(p, name="proxies", low=0, integer=True)
            if len(set(proxies)) != len(proxies):
                raise ConfigError(f"proxies lists a column twice: {list(proxies)}.")
        check_number(independence, name="independence", low=0)
        check_number(n_particles, name="n_particles", low=1, integer=True)
        check_number(n_plugin_fits, name="n_plugin_fits", low=2, integer=True)
        self.latent_dim = latent_dim
        self.base_estimator = base_estimator
        self.proxies = None if proxies is None else tuple(int(p) for p in proxies)
        self.hidden = tuple(hidden)
        self.activation = activation
        self.independence = independence
        self.n_particles = n_particles
        self.n_samples = n_samples
        self.n_plugin_fits = n_plugin_fits
        self.train_config = train_config
        self.seed = seed

    def _default_training(self) -> TrainConfig:
        return TrainConfig(
            max_epochs=300,
            max_steps=2500,
            batch_size=128,
            lr_schedule="cosine",
            val_fraction=0.0,
            patience=None,
            restore_best=False,
        )

    # ---------------------------------------------------------------- columns
    def _check_columns(self, n_covariates: int) -> None:
        bad = [p for p in self.proxies or () if p >= n_covariates]
        if bad:
            raise ConfigError(
                f"proxies {bad} are not columns of [X, W], which has {n_covariates} column(s)."
            )

    def _split_columns(self, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(M, R)``: the proxy columns and the observed confounders."""
        proxies = list(self.proxies or ())
        rest = [j for j in range(c.shape[1]) if j not in proxies]
        return c[:, proxies], c[:, rest]

    def _latent_rows(
        self, c: torch.Tensor, t: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        m, r = self._split_columns(c)
        return torch.cat([m, t[:, None], y[:, None]], dim=1).float(), r.float()

    def _covariate_inputs(self, c: torch.Tensor) -> tuple[torch.Tensor, ...]:
        m, r = self._split_columns(c)
        return m.float(), r.float()

    # --------------------------------------------------------------- networks
    def _build(self, feature_shape: tuple[int, ...], cond_shapes: list[tuple[int, ...]]) -> None:
        d_m, d_r = feature_shape[0] - 2, cond_shapes[0][0]
        k, h, act = self.latent_dim, self.hidden, self.activation
        scaler = getattr(self, "scaler_", None)
        binary = (
            scaler.binary[list(self.proxies or ())]
            if scaler is not None
            else torch.zeros(d_m, dtype=torch.bool)
        )
        self.register_buffer("binary_", binary.clone(), persistent=False)
        self.n_proxies_ = d_m
        self.q_body = trunk(d_r + d_m + 1, h, act)  # q_φ(U | R, M, T, Y): body over (R, M, y)
        self.q_head = nn.Linear(h[-1], 4 * k)  # ... one head per arm
        self.q_marginal = network(d_r + d_m, h, 2 * k, act)  # q_ψ(U | R, M)
        self.p_m = MLP(k + d_r, h, d_m, act) if d_m else None  # p(M | U, R)
        # log-scales are _SCALE_SPEED × a parameter: Adam moves each parameter by about lr
        # a step, and the noise scales must travel far (from y's total spread to its
        # noise) before the posterior can use y, which would otherwise take 100+ epochs
        self.m_scale_raw = nn.Parameter(torch.zeros(d_m))
        self.p_t = MLP(d_r + k, h, 1, act)  # p(T | R, U)
        self.p_y = nn.ModuleList([MLP(d_r + k, h, 1, act), MLP(d_r + k, h, 1, act)])
        self.y_scale_raw = nn.Parameter(torch.zeros(2))

    def _log_scales(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Log standard deviations of the proxies ``(d_m,)`` and of y per arm ``(2,)``."""
        return _SCALE_SPEED * self.m_scale_raw, _SCALE_SPEED * self.y_scale_raw

    def _split(self, batch: Batch) -> tuple[torch.Tensor, ...]:
        if isinstance(batch, torch.Tensor):
            raise ConfigError("VLUCI's latent rows come with their covariates: pass (D, R).")
        row, r = batch[0], batch[1]
        d = self.n_proxies_
        return row[:, :d], row[:, d], row[:, d + 1], r

    def _q_u(
        self, m: torch.Tensor, t: torch.Tensor, y: torch.Tensor, r: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.q_body(torch.cat([r, m, y.unsqueeze(-1)], dim=-1))
        p = self.q_head(h)
        k2 = 2 * self.latent_dim
        p = torch.where((t > 0.5).unsqueeze(-1), p[..., k2:], p[..., :k2])
        mu, raw = p.chunk(2, dim=-1)
        return mu, positive(raw)

    def _q_marginal(self, m: torch.Tensor, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, raw = self.q_marginal(torch.cat([r, m], dim=-1)).chunk(2, dim=-1)
        return mu, positive(raw)

    def _proxy_loc(self, u: torch.Tensor, r: torch.Tensor) -> torch.Tensor | None:
        """The proxies' means (logits) given U ``(..., B, k)`` and R ``(B, d_r)``."""
        if self.p_m is None:
            return None
        return self.p_m(torch.cat([u, r.expand(*u.shape[:-1], r.shape[-1])], dim=-1))

    def _heads(
        self, u: torch.Tensor, r: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
        """Proxy means, treatment logits and per-arm outcome means ``(..., 2)`` given U, R."""
        r = r.expand(*u.shape[:-1], r.shape[-1])
        ru = torch.cat([r, u], dim=-1)
        m_loc = self._proxy_loc(u, r)
        f = torch.cat([self.p_y[0](ru), self.p_y[1](ru)], dim=-1)
        return m_loc, self.p_t(ru)[..., 0], f

    # --------------------------------------------------------------- contract
    def prior(self, *cond: torch.Tensor) -> Distribution:
        """N(0, I_k): batch shape ``(B,)`` given the condition ``R`` ``(B, d_r)``, else ``()``."""
        dev = self._device()
        shape = (cond[0].shape[0], self.latent_dim) if cond else (self.latent_dim,)
        return diagonal_normal(torch.zeros(shape, device=dev), torch.ones(shape, device=dev))

    def encode(self, x: torch.Tensor, *cond: torch.Tensor) -> Distribution:
        """q_φ(U | R, M, T, Y) for rows ``x = [M, t, y]`` ``(B, d_m + 2)``, R ``(B, d_r)``."""
        m, t, y, r = self._split((x, *cond))
        return diagonal_normal(*self._q_u(m, t, y, r))

    def decode(self, z: torch.Tensor, *cond: torch.Tensor) -> Distribution:
        """p(M, t, y | U, R) for U ``(..., B, k)``: a :class:`RowLikelihood`."""
        m_loc, t_logits, f = self._heads(z, cond[0])
        if m_loc is None:
            m_loc = z.new_zeros((*z.shape[:-1], 0))
        scale = self._log_scales()[0].exp().expand_as(m_loc)
        y_scale = self._log_scales()[1].exp().expand_as(f)
        return RowLikelihood(m_loc, scale, self.binary_, t_logits, f, y_scale)

    def _proxy_nll(self, m_loc: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """−log p(M | U, R) ``(..., B)`` from the proxies' means (logits) ``(..., B, d_m)``."""
        mm = m.expand_as(m_loc)
        nll = gaussian_nll(mm, m_loc, self._log_scales()[0].exp())
        if bool(self.binary_.any()):
            bern = F.binary_cross_entropy_with_logits(m_loc, mm, reduction="none")
            nll = torch.where(self.binary_, bern, nll)
        return nll.sum(-1)

    def _log_lik(
        self, u: torch.Tensor, m: torch.Tensor, t: torch.Tensor, y: torch.Tensor, r: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """−log p of the proxies, of T and of Y given U ``(..., B, k)``: each ``(..., B)``."""
        m_loc, t_logits, f = self._heads(u, r)
        y_log_scale = self._log_scales()[1]
        out: dict[str, torch.Tensor] = {}
        if m_loc is not None:
            out["proxies"] = self._proxy_nll(m_loc, m)
        out["t"] = F.binary_cross_entropy_with_logits(
            t_logits, t.expand_as(t_logits), reduction="none"
        )
        treated = t > 0.5
        loc = torch.where(treated, f[..., 1], f[..., 0])
        log_scale = torch.where(treated, y_log_scale[1], y_log_scale[0])
        out["y"] = gaussian_nll(y, loc, log_scale.exp())
        return out

    def loss(self, batch: Batch) -> LossOutput:
        """−(bound on log p(M, T, Y | R)), plus q_ψ's fit and the independence penalty.

        With ``n_particles = 1`` the bound is the ELBO, reported in parts
        (``reconstruction_*``, ``kl``); with more, the importance-weighted bound
        (``negative_iw_bound``). ``stats["kl_per_dim"]`` is KL(q_φ ‖ p) either way.
        """
        m, t, y, r = self._split(batch)
        mu, sigma = self._q_u(m, t, y, r)
        k = self.n_particles
        eps = torch.randn((k, *sigma.shape), dtype=sigma.dtype, device=sigma.device)
        u = mu + sigma * eps  # (K, B, latent)
        nll = self._log_lik(u, m, t, y, r)
        kl_per_dim = standard_kl_per_dim(mu, sigma)
        out: dict[str, torch.Tensor] = {}
        if k == 1:
            for name, v in nll.items():
                out[f"reconstruction_{name}"] = v.mean()
            out["kl"] = kl_per_dim.sum()
        else:
            # log w = log p(M, T, Y | U, R) + log p(U) − log q_φ(U)   (the 2π terms cancel)
            log_w = -sum(nll.values()) - 0.5 * (u.square() - eps.square()).sum(-1)
            log_w = log_w + sigma.log().sum(-1)
            bound = torch.logsumexp(log_w, 0) - math.log(k)
            out["negative_iw_bound"] = -bound.mean()
        if self.training:
            # The second variational fit, q_ψ(U | R, M) toward q_φ (held fixed). Left out
            # in evaluation: it grows as q_φ learns from T and Y (it is their information
            # about U), so it must not steer early stopping; it moves no other parameter.
            mq, sq = self._q_marginal(m, r)
            mu_d, sd_d = mu.detach(), sigma.detach()
            kl_m = (
                (sq / sd_d).log() + (sd_d.square() + (mu_d - mq).square()) / (2 * sq.square()) - 0.5
            )
            out["marginal"] = kl_m.sum(-1).mean()
        u0 = u[0]
        if self.independence > 0 and r.shape[1] and u0.shape[0] > 2:
            uc = u0 - u0.mean(0)
            rc = r - r.mean(0)
            cov = uc.T @ rc / u0.shape[0]  # (latent, d_r)
            corr = cov / (uc.std(0, unbiased=False)[:, None] * rc.std(0, unbiased=False) + 1e-6)
            out["independence"] = self.independence * corr.square().mean(1).sum()
        total = torch.stack(list(out.values())).sum()
        return LossOutput(total=total, parts=out, stats={"kl_per_dim": kl_per_dim})

    # ---------------------------------------------------------------- effects
    def _draw_u(
        self, rows: tuple[torch.Tensor, ...], factual: bool, n_samples: int
    ) -> torch.Tensor:
        """``(n_samples, n, k)`` posterior draws of U.

        Factual rows ``(D, R)``: the posterior given (R, M, T, Y), proposals from q_φ;
        covariates only ``(M, R)``: the posterior given (R, M), ∝ p(U) p(M | U, R),
        proposals from q_ψ. With ``n_particles > 1`` each draw is resampled from
        ``n_particles`` proposals by their importance weights (sampling-importance-
        resampling), which corrects the proposals' too-narrow or too-wide spread.
        """
        dev = self._device()
        k = self.n_particles
        outs = []
        for sl in self._chunks(rows[0].shape[0], n_samples * k):
            if factual:
                m, t, y, r = self._split((rows[0][sl].to(dev), rows[1][sl].to(dev)))
                mu, sigma = self._q_u(m, t, y, r)
            else:
                m, r = rows[0][sl].to(dev), rows[1][sl].to(dev)
                mu, sigma = self._q_marginal(m, r)
            eps = torch.randn((k, n_samples, *mu.shape), device=dev)
            u = mu + sigma * eps  # (K, S, b, latent)
            if k > 1:
                if factual:
                    nll = sum(self._log_lik(u, m, t, y, r).values())
                else:
                    m_loc = self._proxy_loc(u, r)
                    nll = (
                        torch.zeros(u.shape[:-1], device=dev)
                        if m_loc is None
                        else self._proxy_nll(m_loc, m)
                    )
                log_w = -nll - 0.5 * (u.square() - eps.square()).sum(-1)  # (K, S, b)
                pick = torch.distributions.Categorical(logits=log_w.movedim(0, -1)).sample()
                u = u.gather(0, pick[None, ..., None].expand(1, *u.shape[1:]))[0]
            else:
                u = u[0]
            outs.append(u.cpu())
        return torch.cat(outs, dim=1)

    def _potential_outcomes(
        self, rows: tuple[torch.Tensor, ...], factual: bool, n_samples: int
    ) -> torch.Tensor:
        train = factual and rows is getattr(self, "train_rows_", None)
        cached = getattr(self, "train_draws_", None) if train else None
        u = cached if cached is not None else self._draw_u(rows, factual, n_samples)
        r = rows[1]
        dev = self._device()
        outs = []
        for sl in self._chunks(r.shape[0], u.shape[0]):
            outs.append(self._heads(u[:, sl].to(dev), r[sl].to(dev))[2].cpu())
        return torch.cat(outs, dim=1)

    def _after_latent_fit(self, data: CausalData) -> None:
        # a fit replaces what a loaded model kept of an earlier plug-in (its base is not
        # restored by load, so a refit without base_estimator is VLUCI alone)
        self._plugin_lost = False
        self.plugin_linear_ = None
        # posterior draws for the training rows, made once (effect() and the plug-in use them)
        self.eval()
        with torch.no_grad():
            n_draws = max(self.n_samples, 0 if self.base_estimator is None else self.n_plugin_fits)
            self.train_draws_ = self._draw_u(self.train_rows_, True, n_draws)
        self.plugin_fits_: tuple[Any, ...] = ()
        if self.base_estimator is None:
            return
        base = self.base_estimator
        if not _is_cate_estimator(base):
            base = TLearner(base)
        u = self.train_draws_[: self.n_plugin_fits].double()
        c = self.covariates_train_
        y, t = data.Y.numpy(), data.T.numpy()
        fits = []
        for s in range(self.n_plugin_fits):
            x_aug = torch.cat([c, u[s]], dim=1).numpy()
            fits.append(copy.deepcopy(base).fit(y, t, X=x_aug))
        self.plugin_fits_ = tuple(fits)
        self.plugin_linear_ = _linear_plugin(fits)

    def _plugin_effects(self, fits: Sequence[Any], x_aug: torch.Tensor) -> torch.Tensor:
        """``(S, n)``: each base fit's effect at its rows ``x_aug`` ``(S, n, d + k)``."""
        if fits:
            return torch.stack(
                [
                    torch.as_tensor(
                        np.asarray(fit.effect(x_aug[s].numpy()), dtype=np.float64).reshape(-1)
                    )
                    for s, fit in enumerate(fits)
                ]
            )
        lin = self.plugin_linear_  # (S, d + k + 1): [w, b] per fit
        assert lin is not None
        return (x_aug * lin[:, None, :-1]).sum(-1) + lin[:, None, -1]

    def _effect_draws(
        self, X: torch.Tensor | None, T0: torch.Tensor, T1: torch.Tensor
    ) -> torch.Tensor:
        if self.base_estimator is None and not getattr(self, "_plugin_lost", False):
            return super()._effect_draws(X, T0, T1)
        fits = getattr(self, "plugin_fits_", ())
        linear = getattr(self, "plugin_linear_", None)
        if not fits and linear is None:
            raise NotFittedError(
                f"this VLUCI was loaded from disk and its plug-in base "
                f"({getattr(self, '_plugin_base', 'base_estimator')}) was not saved with it: "
                "a saved model keeps the plug-in fits only for linear bases (scikit-learn "
                "linear regressors, TLearner/SLearner of them, OLS); pickle is never used. "
                "Refit it to get effects (a CLI run folder's effects.csv holds the effects of "
                "its rows)."
            )
        n_fits = len(fits) if fits else int(linear.shape[0])  # type: ignore[union-attr]
        rows, factual = self._posterior_rows(X)
        m = 1
        if factual:
            c, u = self.covariates_train_, self.train_draws_[:n_fits].double()
        else:
            c, m = effect_covariates(self, X), controls_per_row(self, X)
            self.eval()
            with torch.no_grad(), rng_scope(derive_seed(self._fitted_seed(), 29)):
                u = self._draw_u(rows, False, n_fits).double()
        x_aug = torch.cat([c.double().expand(n_fits, -1, -1), u], dim=2)  # (S, n·m, d + k)
        return (T1 - T0) * mean_over_controls(self._plugin_effects(fits, x_aug), m)

    def _fitted_state(self) -> dict[str, Any]:
        state = super()._fitted_state() | {"plugin": self.base_estimator is not None}
        if self.base_estimator is not None:
            linear = getattr(self, "plugin_linear_", None)
            state["plugin_base"] = repr(self.base_estimator)
            state["plugin_linear"] = None if linear is None else linear.tolist()
        return state

    def _load_fitted_state(self, state: dict[str, Any]) -> None:
        super()._load_fitted_state(state)
        self._plugin_lost = bool(state.get("plugin", False))
        self._plugin_base = state.get("plugin_base", "base_estimator")
        linear = state.get("plugin_linear")
        self.plugin_linear_ = None if linear is None else torch.tensor(linear, dtype=torch.float64)

    def _save_keeps_effects(self) -> bool:
        """Whether :meth:`save` keeps what ``effect(X)`` needs: ``True`` without a base
        estimator or with a linear one (see the class docstring), ``False`` otherwise."""
        if getattr(self, "plugin_linear_", None) is not None:
            return True
        return self.base_estimator is None and not getattr(self, "_plugin_lost", False)


def _linear_plugin(fits: Sequence[Any]) -> torch.Tensor | None:
    """``(S, d + 1)`` rows ``[w, b]`` with ``fit.effect(x) = x·w + b`` for every fit, or
    ``None`` when one of them is not known to be linear."""
    rows = []
    for fit in fits:
        linear = getattr(fit, "_linear_effect", None)
        got = linear() if callable(linear) else None
        if got is None:
            return None
        w, b = got
        rows.append(torch.cat([w.to(torch.float64), torch.tensor([b], dtype=torch.float64)]))
    return torch.stack(rows)
