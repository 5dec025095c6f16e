"""Conjugate belief updates as pure tensor functions, with exponential forgetting.

Four conjugate pairs, each a small frozen dataclass of tensors (the *belief*) whose methods
return new beliefs and never change the old one:

- :class:`BetaBelief`: Beta(α, β) over a Bernoulli success rate; observations are
  ``successes`` out of ``trials``.
- :class:`NormalBelief`: N(loc, var) over the mean of Normal observations of known
  variance ``obs_var``.
- :class:`NormalInverseGammaBelief`: μ | σ² ~ N(loc, σ²/κ), σ² ~ InvGamma(α, β) over the
  mean and variance of Normal observations (the Normal-Gamma prior on (μ, 1/σ²)).
- :class:`DirichletBelief`: Dir(concentration) over the probabilities of K categories.

Every field has shape ``batch_shape`` (the Dirichlet's ``(*batch_shape, K)``): many series,
arms or parameter settings at once, in float32 or float64, with no Python loop over them.

Forgetting. A belief is relaxed toward its prior before each observation is absorbed,
linearly in the pseudo-count coordinates of the conjugate prior:
``forget(b, prior, λ) = λ·b + (1 − λ)·prior``, λ = 1 keeping everything and λ = 0 starting
afresh from the prior. For the Beta this is the MoPPS rule
α ← λα + (1−λ)α₀ + s, β ← λβ + (1−λ)β₀ + (k − s). The coordinates are (α, β) for the Beta,
(1/var, loc/var) for the Normal, (κ, κ·loc, 2α, 2β + κ·loc²) for the Normal-Inverse-Gamma
(written out below in a form free of cancellation) and the concentrations for the Dirichlet;
each is the exponent of the prior's density, so forgetting is a power prior: the density
p_t ∝ p_{t-1}^λ · p_0^(1−λ).

The predictive log density of an observation under a belief (``log_predictive``) is the
closed form: Beta-binomial, Normal, Student-t and categorical. A filter's surprise at a step
is its negative, evaluated under the relaxed belief, before the observation is absorbed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = [
    "BetaBelief",
    "DirichletBelief",
    "NormalBelief",
    "NormalInverseGammaBelief",
    "beta_bernoulli_update",
    "sample_beta",
]

Forgetting = float | torch.Tensor

_LOG_PI = math.log(math.pi)
_LOG_2PI = math.log(2 * math.pi)


def _lbeta(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)


def sample_beta(
    alpha: torch.Tensor,
    beta: torch.Tensor,
    *,
    generator: torch.Generator | None,
    sample_shape: tuple[int, ...] = (),
) -> torch.Tensor:
    """Draws from Beta(alpha, beta) using ``generator`` (never the global RNG).

    Args:
        alpha, beta: positive parameters, broadcastable to each other.
        generator: the random stream (on the parameters' device).
        sample_shape: leading shape of independent draws.

    Returns:
        Tensor of shape ``sample_shape + broadcast(alpha, beta).shape``.
    """
    a, b = torch.broadcast_tensors(alpha, beta)
    conc = torch.stack([a, b], dim=-1).expand(*sample_shape, *a.shape, 2).contiguous()
    return torch._sample_dirichlet(conc, generator=generator)[..., 0]


@dataclass(frozen=True)
class BetaBelief:
    """Beta(alpha, beta) beliefs over Bernoulli success rates.

    Attributes:
        alpha: ``batch_shape`` pseudo-counts of successes (positive).
        beta: ``batch_shape`` pseudo-counts of failures (positive).
    """

    alpha: torch.Tensor
    beta: torch.Tensor

    @property
    def mean(self) -> torch.Tensor:
        """Posterior mean α / (α + β)."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def variance(self) -> torch.Tensor:
        """Posterior variance αβ / ((α + β)² (α + β + 1))."""
        n = self.alpha + self.beta
        return self.alpha * self.beta / (n * n * (n + 1))

    def forget(self, prior: BetaBelief, forgetting: Forgetting) -> BetaBelief:
        """Relax toward ``prior``: α ← λα + (1−λ)α₀, β ← λβ + (1−λ)β₀."""
        lam = forgetting
        if isinstance(lam, float | int) and lam == 1:
            return self
        return BetaBelief(
            lam * self.alpha + (1 - lam) * prior.alpha, lam * self.beta + (1 - lam) * prior.beta
        )

    def absorb(self, successes: torch.Tensor, trials: torch.Tensor) -> BetaBelief:
        """Add ``successes`` to α and ``trials − successes`` to β."""
        return BetaBelief(self.alpha + successes, self.beta + (trials - successes))

    def log_predictive(self, successes: torch.Tensor, trials: torch.Tensor) -> torch.Tensor:
        """log BetaBinomial(successes | trials, α, β); 0 where ``trials`` is 0."""
        s, k = successes, trials
        log_choose = torch.lgamma(k + 1) - torch.lgamma(s + 1) - torch.lgamma(k - s + 1)
        return (
            log_choose + _lbeta(self.alpha + s, self.beta + k - s) - _lbeta(self.alpha, self.beta)
        )


def beta_bernoulli_update(
    belief: BetaBelief,
    successes: torch.Tensor,
    trials: torch.Tensor,
    *,
    prior: BetaBelief,
    forgetting: Forgetting = 1.0,
) -> BetaBelief:
    """One MoPPS step: arms with ``trials > 0`` forget toward the prior, then absorb.

    α ← λα + (1−λ)α₀ + s and β ← λβ + (1−λ)β₀ + (k − s) where k > 0; arms with k = 0 keep
    their belief unchanged (no forgetting either).

    Args:
        belief: the current belief, fields of shape ``(..., n_arms)``.
        successes, trials: counts broadcastable to the belief (0 ≤ successes ≤ trials).
        prior: the prior (α₀, β₀), broadcastable to the belief.
        forgetting: λ in [0, 1] (a float, or a tensor broadcastable to the belief).

    Returns:
        The new belief.
    """
    new = belief.forget(prior, forgetting).absorb(successes, trials)
    seen = trials > 0
    return BetaBelief(
        torch.where(seen, new.alpha, belief.alpha), torch.where(seen, new.beta, belief.beta)
    )


@dataclass(frozen=True)
class NormalBelief:
    """N(loc, var) beliefs over the mean of Normal observations with known variance.

    Attributes:
        loc: ``batch_shape`` posterior means of the mean.
        var: ``batch_shape`` posterior variances of the mean (positive).
    """

    loc: torch.Tensor
    var: torch.Tensor

    @property
    def mean(self) -> torch.Tensor:
        """Posterior mean of the mean."""
        return self.loc

    @property
    def variance(self) -> torch.Tensor:
        """Posterior variance of the mean."""
        return self.var

    def forget(self, prior: NormalBelief, forgetting: Forgetting) -> NormalBelief:
        """Relax the precision 1/var and the precision-weighted mean loc/var toward the prior."""
        lam = forgetting
        if isinstance(lam, float | int) and lam == 1:
            return self
        prec = lam / self.var + (1 - lam) / prior.var
        shift = lam * self.loc / self.var + (1 - lam) * prior.loc / prior.var
        return NormalBelief(shift / prec, 1.0 / prec)

    def absorb(self, x: torch.Tensor, obs_var: torch.Tensor | float) -> NormalBelief:
        """Absorb one observation ``x`` ~ N(mean, obs_var)."""
        var = self.var * obs_var / (self.var + obs_var)
        return NormalBelief(self.loc + self.var / (self.var + obs_var) * (x - self.loc), var)

    def log_predictive(self, x: torch.Tensor, obs_var: torch.Tensor | float) -> torch.Tensor:
        """log N(x; loc, var + obs_var)."""
        v = self.var + obs_var
        return -0.5 * (_LOG_2PI + torch.log(v) + (x - self.loc).square() / v)


@dataclass(frozen=True)
class NormalInverseGammaBelief:
    """μ | σ² ~ N(loc, σ²/kappa), σ² ~ InvGamma(alpha, beta): beliefs over a Normal's mean and
    variance (equivalently the Normal-Gamma prior on the mean and precision 1/σ²).

    Attributes:
        loc: ``batch_shape`` location of the mean.
        kappa: ``batch_shape`` pseudo-observations behind ``loc`` (positive).
        alpha, beta: ``batch_shape`` shape and scale of the variance's inverse gamma (positive).
    """

    loc: torch.Tensor
    kappa: torch.Tensor
    alpha: torch.Tensor
    beta: torch.Tensor

    @property
    def mean(self) -> torch.Tensor:
        """Posterior mean of μ."""
        return self.loc

    @property
    def variance(self) -> torch.Tensor:
        """Posterior variance of μ, β / ((α − 1) κ) (infinite for α ≤ 1)."""
        v = self.beta / ((self.alpha - 1) * self.kappa)
        return torch.where(self.alpha > 1, v, torch.full_like(v, math.inf))

    @property
    def noise_variance(self) -> torch.Tensor:
        """Posterior mean of σ², β / (α − 1) (infinite for α ≤ 1)."""
        v = self.beta / (self.alpha - 1)
        return torch.where(self.alpha > 1, v, torch.full_like(v, math.inf))

    def forget(
        self, prior: NormalInverseGammaBelief, forgetting: Forgetting
    ) -> NormalInverseGammaBelief:
        """Relax (κ, κ·loc, 2α, 2β + κ·loc²) linearly toward the prior's."""
        lam = forgetting
        if isinstance(lam, float | int) and lam == 1:
            return self
        a, b = lam * self.kappa, (1 - lam) * prior.kappa
        kappa = a + b
        loc = (a * self.loc + b * prior.loc) / kappa
        # λβ + (1−λ)β₀ + ½(a·loc² + b·loc₀² − κ·loc_new²), the bracket written without cancellation
        beta = lam * self.beta + (1 - lam) * prior.beta
        beta = beta + 0.5 * a * b / kappa * (self.loc - prior.loc).square()
        return NormalInverseGammaBelief(
            loc, kappa, lam * self.alpha + (1 - lam) * prior.alpha, beta
        )

    def absorb(self, x: torch.Tensor) -> NormalInverseGammaBelief:
        """Absorb one observation: κ+1, loc + (x − loc)/(κ+1), α + ½, β + κ(x − loc)²/(2(κ+1))."""
        kappa = self.kappa + 1
        d = x - self.loc
        return NormalInverseGammaBelief(
            self.loc + d / kappa,
            kappa,
            self.alpha + 0.5,
            self.beta + 0.5 * self.kappa * d.square() / kappa,
        )

    def log_predictive(self, x: torch.Tensor) -> torch.Tensor:
        """log Student-t(x; df 2α, loc, scale² = β(κ + 1)/(ακ))."""
        df = 2 * self.alpha
        scale_sq = self.beta * (self.kappa + 1) / (self.alpha * self.kappa)
        z = (x - self.loc).square() / (df * scale_sq)
        return (
            torch.lgamma((df + 1) / 2)
            - torch.lgamma(df / 2)
            - 0.5 * (torch.log(df) + _LOG_PI + torch.log(scale_sq))
            - (df + 1) / 2 * torch.log1p(z)
        )


@dataclass(frozen=True)
class DirichletBelief:
    """Dir(concentration) beliefs over the probabilities of K categories.

    Attributes:
        concentration: ``(*batch_shape, K)`` positive concentrations.
    """

    concentration: torch.Tensor

    @property
    def mean(self) -> torch.Tensor:
        """``(*batch_shape, K)`` posterior mean probabilities."""
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def variance(self) -> torch.Tensor:
        """``(*batch_shape, K)`` posterior variance of each probability."""
        total = self.concentration.sum(-1, keepdim=True)
        m = self.concentration / total
        return m * (1 - m) / (total + 1)

    def forget(self, prior: DirichletBelief, forgetting: Forgetting) -> DirichletBelief:
        """Relax the concentrations toward the prior's."""
        lam = forgetting
        if isinstance(lam, float | int) and lam == 1:
            return self
        if isinstance(lam, torch.Tensor):
            lam = lam.unsqueeze(-1)
        return DirichletBelief(lam * self.concentration + (1 - lam) * prior.concentration)

    def absorb(self, counts: torch.Tensor) -> DirichletBelief:
        """Add ``(*batch_shape, K)`` category counts to the concentrations."""
        return DirichletBelief(self.concentration + counts)

    def log_predictive(self, x: torch.Tensor) -> torch.Tensor:
        """log P(category ``x``) = log α_x − log Σα, for integer ``x`` of shape ``batch_shape``."""
        shape = torch.broadcast_shapes(x.shape, self.concentration.shape[:-1])
        conc = self.concentration.expand(*shape, self.concentration.shape[-1])
        picked = torch.gather(conc, -1, x.expand(shape).unsqueeze(-1)).squeeze(-1)
        return torch.log(picked) - torch.log(conc.sum(-1))
