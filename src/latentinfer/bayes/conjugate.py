"""Streaming conjugate filters for Normal and categorical observations, with forgetting.

Three filters over independent scalar series, batched (``batch_shape`` series or parameter
settings at once) and exact in float64:

- :class:`NormalFilter`: a Normal prior on the mean, observations of known variance;
- :class:`NormalInverseGammaFilter`: mean and variance unknown, Normal-Inverse-Gamma prior,
  Student-t predictive;
- :class:`DirichletCategoricalFilter`: K categories, Dirichlet prior.

Each ``update`` relaxes the belief toward the prior by ``forgetting`` λ (1: none; see
:mod:`latentinfer.inference.conjugate` for the coordinates) and absorbs one observation per
series; ``filter`` runs a sequence ``(..., T)`` and returns the per-step beliefs and
surprise (the negative log predictive density of each observation before it is absorbed).
The Beta-Bernoulli filter with Thompson selection (MoPPS) is in
:mod:`latentinfer.bayes.beta_bernoulli`.
"""

from __future__ import annotations

from typing import Any, Self, final

import torch

from latentinfer.bayes._streaming import (
    ConjugateFilter,
    FilterTrace,
    arm_indices,
    check_batch_shape,
    check_broadcasts_to,
    check_dtype,
    check_forgetting,
    check_param,
    check_time,
    observations,
)
from latentinfer.core.errors import ConfigError, ShapeError, ValidationError
from latentinfer.core.validation import check_number
from latentinfer.inference.conjugate import DirichletBelief, NormalBelief, NormalInverseGammaBelief

__all__ = ["DirichletCategoricalFilter", "NormalFilter", "NormalInverseGammaFilter"]

Tensor = torch.Tensor


def _shape_of(*parts: Any, what: str = "batch_shape and the parameters' shapes") -> tuple[int, ...]:
    shapes = [p.shape if isinstance(p, Tensor) else tuple(p) for p in parts]
    try:
        return tuple(torch.broadcast_shapes(*shapes))
    except RuntimeError as exc:
        listing = ", ".join(str(tuple(s)) for s in shapes)
        raise ShapeError(
            f"{what} ({listing}) do not broadcast; pass shapes that broadcast to one batch shape."
        ) from exc


_X_SHAPES = "x's leading shape (x is (..., T)) and the filter's batch_shape"


class _ScalarFilter(ConjugateFilter[Any]):
    """Shared by the two Normal filters: real observations, one per series and step."""

    def _data(self, x: Any, name: str = "x") -> Tensor:
        return observations(x, name=name, dtype=self.dtype, device=self._device)

    def update(self, x: Any) -> Self:
        """Absorb one observation per series; ``x`` broadcasts to ``batch_shape``."""
        t = self._data(x)
        check_broadcasts_to(t, self.batch_shape, name="x", what="the filter's batch_shape")
        self.belief_ = self._checked(self._step(self.belief_, (t,))[0])
        return self

    def log_predictive(self, x: Any) -> Tensor:
        """``batch_shape`` log predictive density of the next observation ``x``."""
        t = self._data(x)
        check_broadcasts_to(t, self.batch_shape, name="x", what="the filter's batch_shape")
        relaxed = self.belief_.forget(self.prior, self.forgetting)
        return self._log_predictive(relaxed, (t,))

    def filter(self, x: Any) -> FilterTrace[Any]:
        """Run a sequence from the current belief (the filter itself is left unchanged).

        Args:
            x: ``(..., T)`` observations; ``...`` broadcasts with ``batch_shape``.

        Returns:
            :class:`~latentinfer.bayes.FilterTrace` whose belief fields and ``surprise``
            have shape ``(broadcast(..., batch_shape), T)``.
        """
        t = self._data(x)
        check_time(t, name="x", min_ndim=1, layout="(..., T)")
        shape = _shape_of(t.shape[:-1], self.batch_shape, what=_X_SHAPES)
        return self._run([(t[..., i],) for i in range(t.shape[-1])], shape)

    @property
    def mean(self) -> Tensor:
        """``batch_shape`` posterior mean of the series' mean."""
        return self.belief_.mean  # type: ignore[no-any-return]

    @property
    def variance(self) -> Tensor:
        """``batch_shape`` posterior variance of the series' mean."""
        return self.belief_.variance  # type: ignore[no-any-return]


@final
class NormalFilter(_ScalarFilter):
    """Normal observations of known variance, Normal prior on their mean.

    x_t ~ N(μ, obs_var) with μ ~ N(prior_loc, prior_var). After forgetting, each step is
    the Kalman update of a constant state: var ← var·obs_var/(var + obs_var),
    loc ← loc + var/(var + obs_var)·(x − loc); the predictive is N(loc, var + obs_var).

    Args:
        prior_loc: prior mean of μ (a number or a tensor broadcastable to ``batch_shape``).
        prior_var: prior variance of μ (positive).
        obs_var: the known observation variance (positive).
        forgetting: λ in [0, 1] (1: no forgetting), a number or a tensor.
        batch_shape: number of independent series (broadcast with the parameters' shapes).
        dtype: ``torch.float64`` (default) or ``torch.float32``.
        device: where the belief lives.

    Example:
        >>> f = NormalFilter(prior_loc=0.0, prior_var=1.0, obs_var=1.0)
        >>> trace = f.filter([1.0, 1.0])
        >>> trace.beliefs.loc, trace.surprise.shape
        (tensor([0.5000, 0.6667], dtype=torch.float64), torch.Size([2]))
    """

    def __init__(
        self,
        *,
        prior_loc: float | Tensor = 0.0,
        prior_var: float | Tensor = 1.0,
        obs_var: float | Tensor = 1.0,
        forgetting: float | Tensor = 1.0,
        batch_shape: tuple[int, ...] | int = (),
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> None:
        self.dtype, self._device = check_dtype(dtype), device
        kw: dict[str, Any] = {"dtype": self.dtype, "device": device}
        loc = check_param(prior_loc, name="prior_loc", positive=False, **kw)
        var = check_param(prior_var, name="prior_var", **kw)
        self.obs_var = check_param(obs_var, name="obs_var", **kw)
        self.forgetting = check_forgetting(forgetting, **kw)
        lam = self.forgetting if isinstance(self.forgetting, Tensor) else ()
        self.batch_shape = _shape_of(check_batch_shape(batch_shape), loc, var, self.obs_var, lam)
        self.prior = NormalBelief(loc, var)
        self.reset()

    def _log_predictive(self, belief: Any, obs: tuple[Tensor, ...]) -> Tensor:
        return belief.log_predictive(obs[0], self.obs_var)  # type: ignore[no-any-return]

    def _absorb(self, belief: Any, obs: tuple[Tensor, ...]) -> Any:
        return belief.absorb(obs[0], self.obs_var)


@final
class NormalInverseGammaFilter(_ScalarFilter):
    """Normal observations of unknown mean and variance, Normal-Inverse-Gamma prior.

    x_t ~ N(μ, σ²), μ | σ² ~ N(prior_loc, σ²/prior_kappa), σ² ~ InvGamma(prior_alpha,
    prior_beta) (the Normal-Gamma prior on (μ, 1/σ²)). Each step: κ ← κ + 1,
    loc ← loc + (x − loc)/κ, α ← α + ½, β ← β + κ_old(x − loc_old)²/(2κ); the predictive is a
    Student-t with 2α degrees of freedom, location loc and scale² β(κ + 1)/(ακ).

    Args:
        prior_loc: prior location of μ.
        prior_kappa: pseudo-observations behind ``prior_loc`` (positive).
        prior_alpha, prior_beta: the inverse gamma's shape and scale (positive).
        forgetting: λ in [0, 1] (1: no forgetting), a number or a tensor.
        batch_shape: number of independent series (broadcast with the parameters' shapes).
        dtype: ``torch.float64`` (default) or ``torch.float32``.
        device: where the belief lives.

    Example:
        >>> f = NormalInverseGammaFilter(batch_shape=(3,))
        >>> f.update(torch.tensor([0.0, 1.0, 2.0])).mean
        tensor([0.0000, 0.5000, 1.0000], dtype=torch.float64)
        >>> f.belief_.alpha
        tensor([1.5000, 1.5000, 1.5000], dtype=torch.float64)
    """

    def __init__(
        self,
        *,
        prior_loc: float | Tensor = 0.0,
        prior_kappa: float | Tensor = 1.0,
        prior_alpha: float | Tensor = 1.0,
        prior_beta: float | Tensor = 1.0,
        forgetting: float | Tensor = 1.0,
        batch_shape: tuple[int, ...] | int = (),
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> None:
        self.dtype, self._device = check_dtype(dtype), device
        kw: dict[str, Any] = {"dtype": self.dtype, "device": device}
        params = (
            check_param(prior_loc, name="prior_loc", positive=False, **kw),
            check_param(prior_kappa, name="prior_kappa", **kw),
            check_param(prior_alpha, name="prior_alpha", **kw),
            check_param(prior_beta, name="prior_beta", **kw),
        )
        self.forgetting = check_forgetting(forgetting, **kw)
        lam = self.forgetting if isinstance(self.forgetting, Tensor) else ()
        self.batch_shape = _shape_of(check_batch_shape(batch_shape), *params, lam)
        self.prior = NormalInverseGammaBelief(*params)
        self.reset()

    def _log_predictive(self, belief: Any, obs: tuple[Tensor, ...]) -> Tensor:
        return belief.log_predictive(obs[0])  # type: ignore[no-any-return]

    def _absorb(self, belief: Any, obs: tuple[Tensor, ...]) -> Any:
        return belief.absorb(obs[0])


@final
class DirichletCategoricalFilter(ConjugateFilter[DirichletBelief]):
    """Categorical observations with a Dirichlet prior on the K category probabilities.

    Each step adds 1 to the observed category's concentration (after forgetting); the
    predictive probability of category k is α_k / Σα.

    Args:
        n_categories: K (may be omitted when ``concentration`` is a tensor ending in K).
        concentration: prior concentration, a positive number (the same for every category)
            or a tensor of shape ``(..., K)``.
        forgetting: λ in [0, 1] (1: no forgetting), a number or a tensor of shape
            ``batch_shape``.
        batch_shape: number of independent series (broadcast with the concentration's
            leading shape).
        dtype: ``torch.float64`` (default) or ``torch.float32``.
        device: where the belief lives.

    Example:
        >>> f = DirichletCategoricalFilter(3)
        >>> trace = f.filter([0, 0, 2])
        >>> trace.final.concentration
        tensor([3., 1., 2.], dtype=torch.float64)
        >>> trace.surprise.exp()  # 1 / predictive probability
        tensor([3.0000, 2.0000, 5.0000], dtype=torch.float64)
    """

    def __init__(
        self,
        n_categories: int | None = None,
        *,
        concentration: float | Tensor = 1.0,
        forgetting: float | Tensor = 1.0,
        batch_shape: tuple[int, ...] | int = (),
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> None:
        self.dtype, self._device = check_dtype(dtype), device
        kw: dict[str, Any] = {"dtype": self.dtype, "device": device}
        if n_categories is not None:
            check_number(n_categories, name="n_categories", low=2, integer=True)
        conc = check_param(concentration, name="concentration", **kw)
        if conc.ndim == 0:
            if n_categories is None:
                raise ConfigError(
                    "n_categories is None and concentration is a number; pass n_categories "
                    "(an int ≥ 2) or a concentration tensor of shape (..., K)."
                )
            conc = conc.expand(int(n_categories)).clone()
        elif n_categories is not None and n_categories != conc.shape[-1]:
            raise ConfigError(
                f"n_categories ({n_categories}) does not match concentration's last dimension "
                f"({conc.shape[-1]}); pass one of them, or make them agree."
            )
        if conc.shape[-1] < 2:
            raise ShapeError(
                f"concentration must end in K ≥ 2 categories; got {tuple(conc.shape)}."
            )
        self.n_categories = int(conc.shape[-1])
        self.forgetting = check_forgetting(forgetting, **kw)
        lam = self.forgetting if isinstance(self.forgetting, Tensor) else ()
        self.batch_shape = _shape_of(check_batch_shape(batch_shape), conc.shape[:-1], lam)
        self.prior = DirichletBelief(conc)
        self.reset()

    def _belief_shape(self) -> tuple[int, ...]:
        return (*self.batch_shape, self.n_categories)

    def _categories(self, x: Any) -> Tensor:
        t = arm_indices(x, name="x", device=self._device)
        if t.numel() and bool(((t < 0) | (t >= self.n_categories)).any()):
            raise ValidationError(
                f"x must hold category indices in [0, {self.n_categories - 1}]; got values in "
                f"[{int(t.min())}, {int(t.max())}]."
            )
        return t

    def _log_predictive(self, belief: DirichletBelief, obs: tuple[Tensor, ...]) -> Tensor:
        return belief.log_predictive(obs[0])

    def _absorb(self, belief: DirichletBelief, obs: tuple[Tensor, ...]) -> DirichletBelief:
        counts = torch.nn.functional.one_hot(obs[0], self.n_categories).to(self.dtype)
        return belief.absorb(counts)

    def update(self, x: Any) -> Self:
        """Absorb one category index per series; ``x`` broadcasts to ``batch_shape``."""
        t = self._categories(x)
        check_broadcasts_to(t, self.batch_shape, name="x", what="the filter's batch_shape")
        self.belief_ = self._checked(self._step(self.belief_, (t.expand(self.batch_shape),))[0])
        return self

    def log_predictive(self, x: Any) -> Tensor:
        """``batch_shape`` log probability that the next observation is category ``x``."""
        t = self._categories(x)
        check_broadcasts_to(t, self.batch_shape, name="x", what="the filter's batch_shape")
        return self.belief_.forget(self.prior, self.forgetting).log_predictive(t)

    def filter(self, x: Any) -> FilterTrace[DirichletBelief]:
        """Run a sequence of category indices from the current belief (filter unchanged).

        Args:
            x: ``(..., T)`` integer category indices; ``...`` broadcasts with ``batch_shape``.

        Returns:
            :class:`~latentinfer.bayes.FilterTrace`: ``beliefs.concentration`` of shape
            ``(S, T, K)`` and ``surprise`` of shape ``(S, T)``, S = broadcast(..., batch_shape).
        """
        t = self._categories(x)
        check_time(t, name="x", min_ndim=1, layout="(..., T)")
        shape = _shape_of(t.shape[:-1], self.batch_shape, what=_X_SHAPES)
        steps = [(t[..., i].expand(shape),) for i in range(t.shape[-1])]
        return self._run(steps, (*shape, self.n_categories), belief_dim=-2)

    @property
    def mean(self) -> Tensor:
        """``(*batch_shape, K)`` posterior mean probabilities."""
        return self.belief_.mean

    @property
    def variance(self) -> Tensor:
        """``(*batch_shape, K)`` posterior variance of each probability."""
        return self.belief_.variance
