"""Normal-Inverse-Wishart algebra: pure tensor functions, batched, float64-ready.

Two uses of the same family live here.

**Conjugate NIW over class-conditional Gaussians** (the baseline head). With
``(μ, Σ) ~ NIW(m₀, κ₀, ν₀, Ψ₀)``, i.e. ``Σ ~ IW(Ψ₀, ν₀)`` and ``μ | Σ ~ N(m₀, Σ/κ₀)``, and
``n`` observations with mean ``x̄`` and scatter ``S = Σᵢ (xᵢ − x̄)(xᵢ − x̄)ᵀ``, the posterior
is NIW with

    κₙ = κ₀ + n,   νₙ = ν₀ + n,   mₙ = (κ₀ m₀ + n x̄) / κₙ,
    Ψₙ = Ψ₀ + S + (κ₀ n / κₙ) (x̄ − m₀)(x̄ − m₀)ᵀ,

and the posterior predictive of a new point is the multivariate Student-t with
``νₙ − d + 1`` degrees of freedom, location ``mₙ`` and scale
``Ψₙ (κₙ + 1) / (κₙ (νₙ − d + 1))`` (Murphy 2007, eq. 258).

**Diagonal NIW over network weights** (:class:`~latentinfer.bayes.NIWMeta`, Kim &
Hospedales 2024). For a weight vector θ of ``p`` coordinates the global variable is
``φ = (μ, Σ)`` with ``Σ = diag(σ²)``, and the NIW restricted to diagonal Σ factorises into
one Normal-Inverse-Gamma per coordinate: ``σⱼ² ~ IG(n₀/2, 1/(2γⱼ))`` (the one-dimensional
inverse Wishart with ``n₀`` degrees of freedom and scale ``1/γⱼ``) and
``μⱼ | σⱼ² ~ N(m₀ⱼ, σⱼ²/l₀)``. Then ``E[1/σⱼ²] = n₀ γⱼ``, ``E[(θ − μⱼ)²/σⱼ²] =
n₀ γⱼ (θ − m₀ⱼ)² + 1/l₀`` and ``E[log σⱼ²] = −log(2γⱼ) − ψ(n₀/2)``. Given a quadratic
approximation ``½ Σⱼ Aⱼ (θⱼ − m̄ⱼ)²`` of an episode's loss, the Gaussian ``q(θ) = N(m, V)``
that maximises ``−E_q[loss] − E_{q(φ)} KL(q ‖ p(θ | φ))`` is, coordinate by coordinate,

    precision 1/Vⱼ = Aⱼ + n₀ γⱼ,     mean mⱼ = (Aⱼ m̄ⱼ + n₀ γⱼ m₀ⱼ) / (Aⱼ + n₀ γⱼ).

References:
    K. P. Murphy, "Conjugate Bayesian analysis of the Gaussian distribution", 2007.
    M. Kim and T. Hospedales, "A Hierarchical Bayesian Model for Deep Few-Shot Meta
    Learning", ICLR 2024, arXiv:2306.09702.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = [
    "DiagonalNIW",
    "GaussianPosterior",
    "NIWParams",
    "StudentT",
    "diagonal_niw_kl",
    "expected_local_kl",
    "local_posterior",
    "niw_class_posteriors",
    "niw_posterior",
    "niw_predictive",
    "niw_update",
]


# --------------------------------------------------------------------------------------
# full-covariance conjugate NIW
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NIWParams:
    """Parameters of a (batch of) Normal-Inverse-Wishart distribution(s).

    Attributes:
        mean: m, shape ``(..., d)``.
        kappa: κ > 0, shape ``(...)``.
        nu: ν > d − 1 degrees of freedom, shape ``(...)``.
        psi: Ψ, symmetric positive definite scale, shape ``(..., d, d)``.
    """

    mean: torch.Tensor
    kappa: torch.Tensor
    nu: torch.Tensor
    psi: torch.Tensor

    @property
    def dim(self) -> int:
        """The dimension d."""
        return int(self.mean.shape[-1])


@dataclass(frozen=True)
class StudentT:
    """A (batch of) multivariate Student-t distribution(s).

    Attributes:
        df: degrees of freedom, shape ``(...)``.
        loc: location, shape ``(..., d)``.
        scale: scale matrix (not the covariance: that is ``scale · df / (df − 2)``), shape
            ``(..., d, d)``.
    """

    df: torch.Tensor
    loc: torch.Tensor
    scale: torch.Tensor

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Log density of ``x`` of shape ``sample_shape + batch_shape + (d,)``.

        ``x`` broadcasts against the batch shape from the right, as in ``torch.distributions``;
        leading sample dimensions are solved as columns of one triangular system per batch
        member (the scale's Cholesky factor is never copied per sample).

        Example:
            >>> t = StudentT(torch.tensor(3.0), torch.zeros(2), torch.eye(2))
            >>> round(float(t.log_prob(torch.zeros(2))), 6)  # log Γ(5/2) − log Γ(3/2) − log 3π
            -1.837877
        """
        d = self.loc.shape[-1]
        batch = torch.broadcast_shapes(self.loc.shape[:-1], self.scale.shape[:-2], self.df.shape)
        diff = x - self.loc  # (*sample, *batch, d)
        nb = len(batch)
        bshape = diff.shape[diff.ndim - 1 - nb : -1]
        sample = diff.shape[: diff.ndim - 1 - nb]
        chol = torch.linalg.cholesky(self.scale).expand(*bshape, d, d)
        cols = diff.reshape(-1, *bshape, d).movedim(0, -1)  # (*batch, d, n_sample)
        z = torch.linalg.solve_triangular(chol, cols, upper=False)
        maha = z.pow(2).sum(-2).movedim(-1, 0).reshape(tuple(sample) + tuple(bshape))
        half_logdet = torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
        df = self.df
        return (
            torch.lgamma((df + d) / 2)
            - torch.lgamma(df / 2)
            - 0.5 * d * torch.log(df * math.pi)
            - half_logdet
            - 0.5 * (df + d) * torch.log1p(maha / df)
        )


def niw_update(
    count: torch.Tensor, mean: torch.Tensor, scatter: torch.Tensor, prior: NIWParams
) -> NIWParams:
    """The NIW posterior from sufficient statistics (the closed form in the module docstring).

    Args:
        count: n, shape ``(...)`` (0 gives back the prior).
        mean: x̄, shape ``(..., d)`` (any value when ``count`` is 0).
        scatter: S = Σᵢ (xᵢ − x̄)(xᵢ − x̄)ᵀ, shape ``(..., d, d)``.
        prior: the prior, batch shape broadcastable against ``count``.

    Returns:
        The posterior :class:`NIWParams`.
    """
    count = count.to(mean.dtype)
    kappa = prior.kappa + count
    nu = prior.nu + count
    m = (prior.kappa[..., None] * prior.mean + count[..., None] * mean) / kappa[..., None]
    dev = mean - prior.mean
    shrink = prior.kappa * count / kappa
    psi = prior.psi + scatter + shrink[..., None, None] * dev[..., :, None] * dev[..., None, :]
    return NIWParams(mean=m, kappa=kappa, nu=nu, psi=psi)


def niw_posterior(x: torch.Tensor, prior: NIWParams) -> NIWParams:
    """The NIW posterior after observing the rows of ``x``.

    Args:
        x: observations, shape ``(..., n, d)`` (a batch of data sets of equal size).
        prior: the prior; batch shape broadcastable against ``x.shape[:-2]``.

    Returns:
        The posterior :class:`NIWParams`, batch shape ``x.shape[:-2]``.

    Example:
        >>> prior = NIWParams(torch.zeros(2), torch.tensor(1.0), torch.tensor(4.0), torch.eye(2))
        >>> post = niw_posterior(torch.tensor([[1.0, 0.0], [3.0, 0.0]]), prior)
        >>> post.kappa.item(), post.nu.item(), post.mean.tolist()
        (3.0, 6.0, [1.3333333730697632, 0.0])
    """
    n = x.shape[-2]
    xbar = x.mean(-2)
    dev = x - xbar[..., None, :]
    scatter = dev.transpose(-1, -2) @ dev
    count = torch.full(x.shape[:-2], float(n), dtype=x.dtype, device=x.device)
    return niw_update(count, xbar, scatter, prior)


def niw_class_posteriors(
    x: torch.Tensor, y: torch.Tensor, n_classes: int, prior: NIWParams
) -> NIWParams:
    """One NIW posterior per class from labelled rows (classes may have unequal counts).

    Args:
        x: observations, shape ``(..., n, d)``.
        y: their labels in ``0 .. n_classes - 1``, int64 of shape ``(..., n)``.
        n_classes: the number of classes C.
        prior: the prior shared by the classes (batch shape broadcastable to ``(..., C)``).

    Returns:
        :class:`NIWParams` with batch shape ``(..., C)``.
    """
    onehot = torch.nn.functional.one_hot(y, n_classes).to(x.dtype)  # (..., n, C)
    count = onehot.sum(-2)  # (..., C)
    sums = onehot.transpose(-1, -2) @ x  # (..., C, d)
    mean = sums / count.clamp_min(1.0)[..., None]
    dev = x[..., None, :, :] - mean[..., :, None, :]  # (..., C, n, d)
    dev = dev * onehot.transpose(-1, -2)[..., None]
    scatter = dev.transpose(-1, -2) @ dev  # (..., C, d, d)
    return niw_update(count, mean, scatter, prior)


def niw_predictive(post: NIWParams) -> StudentT:
    """The posterior predictive of one new observation: a multivariate Student-t.

    Returns:
        ``StudentT(df = ν − d + 1, loc = m, scale = Ψ (κ + 1) / (κ (ν − d + 1)))``.

    Example:
        >>> prior = NIWParams(torch.zeros(2), torch.tensor(1.0), torch.tensor(4.0), torch.eye(2))
        >>> t = niw_predictive(prior)
        >>> t.df.item(), t.scale[0, 0].item()
        (3.0, 0.6666666865348816)
    """
    d = post.dim
    df = post.nu - d + 1
    factor = (post.kappa + 1) / (post.kappa * df)
    return StudentT(df=df, loc=post.mean, scale=post.psi * factor[..., None, None])


# --------------------------------------------------------------------------------------
# diagonal NIW over weights (NIW-Meta)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiagonalNIW:
    """A diagonal Normal-Inverse-Wishart over ``(μ, diag σ²)`` of ``p`` coordinates.

    Per coordinate ``j``: ``σⱼ² ~ IG(dof/2, 1/(2 precisionⱼ))`` and
    ``μⱼ | σⱼ² ~ N(meanⱼ, σⱼ²/kappa)``.

    Attributes:
        mean: m₀, shape ``(p,)`` (or broadcastable).
        kappa: l₀ > 0, the strength of the mean, shape ``()`` or ``(p,)``.
        dof: n₀ > 0, degrees of freedom, shape ``()`` or ``(p,)``.
        precision: γ > 0, the inverse of the inverse-Wishart scale, shape ``(p,)``:
            ``E[1/σⱼ²] = dof · precisionⱼ``.
    """

    mean: torch.Tensor
    kappa: torch.Tensor
    dof: torch.Tensor
    precision: torch.Tensor

    def expected_precision(self) -> torch.Tensor:
        """``E[1/σ²] = dof · precision``, shape ``(p,)``."""
        return self.dof * self.precision

    def expected_log_variance(self) -> torch.Tensor:
        """``E[log σ²] = −log(2 · precision) − ψ(dof/2)``, shape ``(p,)``."""
        return -torch.log(2 * self.precision) - torch.digamma(self.dof / 2)

    def mode(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The joint mode ``(μ, σ²) = (mean, 1 / (precision · (dof + 3)))`` per coordinate."""
        return self.mean, 1.0 / (self.precision * (self.dof + 3))


@dataclass(frozen=True)
class GaussianPosterior:
    """A diagonal Gaussian ``N(mean, 1/precision)`` over weights.

    Attributes:
        mean: shape ``(..., p)``.
        precision: shape ``(..., p)``, positive.
    """

    mean: torch.Tensor
    precision: torch.Tensor

    @property
    def variance(self) -> torch.Tensor:
        """``1 / precision``."""
        return 1.0 / self.precision

    def rsample(
        self, n: int, *, generator: torch.Generator | None = None, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``n`` reparameterised draws, shape ``(n, ..., p)`` (``noise``: the standard normals)."""
        if noise is None:
            noise = torch.randn(
                (n, *self.mean.shape),
                generator=generator,
                dtype=self.mean.dtype,
                device=self.mean.device,
            )
        return self.mean + noise * torch.rsqrt(self.precision)


def local_posterior(
    center: torch.Tensor, curvature: torch.Tensor, prior: DiagonalNIW
) -> GaussianPosterior:
    """The episode's local posterior: a quadratic loss approximation combined with the prior.

    With the episode's loss approximated by ``½ Σⱼ Aⱼ (θⱼ − m̄ⱼ)²`` and the global
    ``q(φ) = prior``, the optimal Gaussian is ``precision = A + n₀γ`` and
    ``mean = (A m̄ + n₀γ m₀) / (A + n₀γ)`` coordinate by coordinate.

    Args:
        center: m̄, shape ``(..., p)``.
        curvature: A ≥ 0, shape ``(..., p)``.
        prior: the global :class:`DiagonalNIW` (broadcast against ``(..., p)``).

    Returns:
        A :class:`GaussianPosterior` of shape ``(..., p)``. Gradients flow to ``prior``'s
        tensors (and to ``center``/``curvature`` unless they are detached).

    Example:
        >>> prior = DiagonalNIW(torch.tensor([0.0, 1.0]), torch.tensor(1.0), torch.tensor(2.0),
        ...                     torch.tensor([0.5, 3.0]))
        >>> q = local_posterior(torch.tensor([1.0, 5.0]), torch.tensor([2.0, 0.0]), prior)
        >>> q.precision.tolist(), [round(v, 4) for v in q.mean.tolist()]
        ([3.0, 6.0], [0.6667, 1.0])
    """
    strength = prior.expected_precision()
    precision = curvature + strength
    mean = (curvature * center + strength * prior.mean) / precision
    return GaussianPosterior(mean=mean, precision=precision)


def expected_local_kl(local: GaussianPosterior, prior: DiagonalNIW) -> torch.Tensor:
    """``E_{q(φ)}[KL(q(θ) ‖ N(θ; μ, Σ))]`` summed over the coordinates.

    Per coordinate: ``½ [n₀γ (v + (m − m₀)²) + 1/l₀ − log v + E log σ² − 1]`` with
    ``v = 1/precision``.

    Args:
        local: q(θ), shape ``(..., p)``.
        prior: q(φ), the global :class:`DiagonalNIW`.

    Returns:
        Shape ``(...)``.

    Example:
        >>> prior = DiagonalNIW(torch.zeros(1), torch.tensor(1e12), torch.tensor(1e9),
        ...                     torch.tensor([1e-9]))  # nearly a point mass at σ² = 1, μ = 0
        >>> q = GaussianPosterior(torch.tensor([1.0]), torch.tensor([1.0]))
        >>> round(float(expected_local_kl(q, prior)), 4)  # KL(N(1, 1) ‖ N(0, 1)) = 0.5
        0.5
    """
    strength = prior.expected_precision()
    var = local.variance
    dev = local.mean - prior.mean
    per = (
        strength * (var + dev * dev)
        + 1.0 / prior.kappa
        + torch.log(local.precision)
        + prior.expected_log_variance()
        - 1.0
    )
    return 0.5 * per.sum(-1)


def diagonal_niw_kl(q: DiagonalNIW, p: DiagonalNIW) -> torch.Tensor:
    """``KL(q ‖ p)`` between two diagonal NIWs, summed over the coordinates.

    Per coordinate, with ``τ = 1/σ²`` Gamma-distributed (shape ``a = n/2``, rate
    ``b = 1/(2γ)``): ``KL_Gamma(a_q, b_q ‖ a_p, b_p) + ½ [log(l_q/l_p) + l_p/l_q − 1 +
    l_p (m_q − m_p)² a_q/b_q]``.

    Example:
        >>> one = DiagonalNIW(torch.zeros(3), torch.tensor(2.0), torch.tensor(3.0), torch.ones(3))
        >>> float(diagonal_niw_kl(one, one))
        0.0
    """
    a_q, a_p = q.dof / 2, p.dof / 2
    b_q, b_p = 1.0 / (2 * q.precision), 1.0 / (2 * p.precision)
    kl_gamma = (
        (a_q - a_p) * torch.digamma(a_q)
        - torch.lgamma(a_q)
        + torch.lgamma(a_p)
        + a_p * (torch.log(b_q) - torch.log(b_p))
        + a_q * (b_p - b_q) / b_q
    )
    ratio = p.kappa / q.kappa
    dev = q.mean - p.mean
    kl_mean = 0.5 * (-torch.log(ratio) + ratio - 1.0 + p.kappa * dev * dev * (a_q / b_q))
    total = kl_gamma + kl_mean
    return total.expand(torch.broadcast_shapes(total.shape, q.mean.shape)).sum(-1)
