"""Observation models p(x|z) for the VAE family: Gaussian, Bernoulli, categorical.

A decoder network outputs raw parameters of shape ``(..., *feature_shape, m)``; the
likelihood turns them into log-probabilities (fast path, used in training), a
``torch.distributions.Distribution`` (the contract's ``decode``), and a mean.
"""

from __future__ import annotations

import abc
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Bernoulli, Categorical, Distribution, Independent, Normal

from latentinfer.core.errors import ValidationError

__all__ = ["BernoulliLikelihood", "CategoricalLikelihood", "GaussianLikelihood", "make_likelihood"]

_LOG_2PI = math.log(2 * math.pi)


class Likelihood(nn.Module, abc.ABC):
    """Abstract observation model over data of shape ``(B, *feature_shape)``."""

    name: str = ""
    params_per_feature: int = 1

    def __init__(self, feature_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.feature_shape = tuple(feature_shape)
        self._event_dims = len(self.feature_shape)

    @abc.abstractmethod
    def check(self, x: torch.Tensor, *, name: str, fitting: bool = True) -> None:
        """Raise :class:`ValidationError` if ``x`` is outside this likelihood's support;
        ``fitting=False``: ``x`` is new data for a fitted model (the advice differs)."""

    @abc.abstractmethod
    def log_prob(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x|z) summed over features; ``raw`` ``(..., B, *feat[, m])`` → ``(..., B)``."""

    def nll(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """−log p(x|z) summed over features and averaged over rows: a scalar.

        The training loss's reconstruction term, ``-log_prob(raw, x).mean()``; subclasses
        compute it with fewer kernels (one sum over every element).
        """
        return -self.log_prob(raw, x).mean()

    @abc.abstractmethod
    def distribution(self, raw: torch.Tensor) -> Distribution:
        """p(x|z) as a distribution with event shape ``feature_shape``."""

    @abc.abstractmethod
    def mean(self, raw: torch.Tensor) -> torch.Tensor:
        """E[x|z], shape ``(..., *feature_shape)``."""

    def _sum_features(self, t: torch.Tensor) -> torch.Tensor:
        return t.flatten(-self._event_dims).sum(-1) if self._event_dims else t


class GaussianLikelihood(Likelihood):
    """x ~ N(decoder(z), diag s²) with a learned per-feature scale s, or a fixed one.

    Args:
        feature_shape: shape of one row of data.
        scale: a fixed standard deviation; ``None`` learns one per feature (initialised to 1).
    """

    name = "gaussian"

    def __init__(self, feature_shape: tuple[int, ...], scale: float | None = None) -> None:
        super().__init__(feature_shape)
        self.fixed_scale = scale
        if scale is None:
            self.log_scale = nn.Parameter(torch.zeros(self.feature_shape))
        else:
            self.register_buffer("log_scale", torch.full(self.feature_shape, math.log(scale)))

    def check(self, x: torch.Tensor, *, name: str, fitting: bool = True) -> None:
        # every real value is allowed
        return None

    def log_prob(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ls = self.log_scale
        lp = -0.5 * (_LOG_2PI + 2 * ls + (x - raw).square() * torch.exp(-2 * ls))
        return self._sum_features(lp)

    def nll(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if raw.shape != x.shape:
            return super().nll(raw, x)
        ls = self.log_scale
        rows = raw.shape[0] if self._event_dims else raw.numel()
        sq = ((x - raw).square() * torch.exp(-2 * ls)).sum() / rows
        # ½ Σ_d (log 2π + 2 log s_d) is the same for every row
        return 0.5 * sq + (ls.sum() + 0.5 * _LOG_2PI * ls.numel())

    def distribution(self, raw: torch.Tensor) -> Distribution:
        scale = torch.exp(self.log_scale).expand_as(raw)
        return Independent(Normal(raw, scale, validate_args=False), self._event_dims)

    def mean(self, raw: torch.Tensor) -> torch.Tensor:
        return raw


class BernoulliLikelihood(Likelihood):
    """x ∈ [0, 1] with log p = x log p̂ + (1 − x) log(1 − p̂), p̂ = sigmoid(decoder(z)).

    Values strictly between 0 and 1 (grey levels) are accepted, as is common for image
    VAEs: the log-probability is then the negative binary cross-entropy.
    """

    name = "bernoulli"

    def check(self, x: torch.Tensor, *, name: str, fitting: bool = True) -> None:
        lo, hi = float(x.min()), float(x.max())
        if lo < 0 or hi > 1:
            advice = (
                "Rescale the data or use likelihood='gaussian'."
                if fitting
                else "The model was fitted with this likelihood: scale new rows as its "
                "training rows were (in a Pipeline, MinMaxScaler(clip=True) keeps held-out "
                "rows in range)."
            )
            raise ValidationError(
                f"{name} must lie in [0, 1] for likelihood='bernoulli'; got values in "
                f"[{lo:.4g}, {hi:.4g}]. {advice}"
            )

    def log_prob(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        x = x.expand_as(raw)
        return -self._sum_features(F.binary_cross_entropy_with_logits(raw, x, reduction="none"))

    def nll(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if raw.shape != x.shape:
            return super().nll(raw, x)
        rows = raw.shape[0] if self._event_dims else raw.numel()
        return F.binary_cross_entropy_with_logits(raw, x, reduction="sum") / rows

    def distribution(self, raw: torch.Tensor) -> Distribution:
        return Independent(Bernoulli(logits=raw, validate_args=False), self._event_dims)

    def mean(self, raw: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(raw)


class CategoricalLikelihood(Likelihood):
    """x ∈ {0, …, K−1} per feature, with a softmax over K decoder outputs per feature.

    Args:
        feature_shape: shape of one row of data.
        n_categories: K.
    """

    name = "categorical"

    def __init__(self, feature_shape: tuple[int, ...], n_categories: int) -> None:
        super().__init__(feature_shape)
        self.n_categories = int(n_categories)
        self.params_per_feature = self.n_categories

    def check(self, x: torch.Tensor, *, name: str, fitting: bool = True) -> None:
        k = self.n_categories
        fractional = x != x.round()
        if bool(fractional.any()):
            example = float(x[fractional][0])
            raise ValidationError(
                f"{name} must hold integer category codes in 0..{k - 1} for "
                f"likelihood='categorical'; got non-integer values such as {example:.4g}. "
                "Pass the unscaled codes (for the bundled digits, --data-option "
                "scale=counts or load('digits', scale='counts'))."
            )
        if float(x.min()) < 0 or float(x.max()) > k - 1:
            raise ValidationError(
                f"{name} must hold integer category codes in 0..{k - 1} for "
                f"likelihood='categorical' with n_categories={k}; got values in "
                f"[{float(x.min()):.4g}, {float(x.max()):.4g}]."
            )

    def log_prob(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        logp = torch.log_softmax(raw, dim=-1)
        idx = x.long().unsqueeze(-1).expand(*raw.shape[:-1], 1)
        return self._sum_features(logp.gather(-1, idx).squeeze(-1))

    def distribution(self, raw: torch.Tensor) -> Distribution:
        return Independent(Categorical(logits=raw, validate_args=False), self._event_dims)

    def mean(self, raw: torch.Tensor) -> torch.Tensor:
        levels = torch.arange(self.n_categories, dtype=raw.dtype, device=raw.device)
        return (torch.softmax(raw, dim=-1) * levels).sum(-1)


def make_likelihood(
    name: str,
    feature_shape: tuple[int, ...],
    *,
    n_categories: int | None = None,
    scale: float | None = None,
) -> Likelihood:
    """Build a likelihood by name (``gaussian``, ``bernoulli``, ``categorical``)."""
    if name == "gaussian":
        return GaussianLikelihood(feature_shape, scale)
    if name == "bernoulli":
        return BernoulliLikelihood(feature_shape)
    if name == "categorical":
        if n_categories is None:
            raise ValidationError("likelihood='categorical' needs n_categories (an int ≥ 2).")
        return CategoricalLikelihood(feature_shape, n_categories)
    raise ValidationError(
        f"likelihood must be 'gaussian', 'bernoulli' or 'categorical'; got {name!r}."
    )
