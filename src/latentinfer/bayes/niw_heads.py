"""Baseline few-shot heads over a feature extractor: prototypes and a conjugate NIW head.

Both share :class:`~latentinfer.bayes.episodic.FewShotClassifier`'s front end with
:class:`~latentinfer.bayes.NIWMeta`, so the three can be compared on the *same* extractor and
the *same* episodes.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from latentinfer.bayes.episodic import (
    EpisodicObjective,
    FewShotClassifier,
    default_extractor,
    resolve_train_config,
    run_episodic_training,
)
from latentinfer.bayes.niw_math import NIWParams, niw_class_posteriors, niw_predictive
from latentinfer.core.config import TrainConfig
from latentinfer.core.errors import ConfigError, ValidationError
from latentinfer.core.output import LossOutput
from latentinfer.core.seeding import make_generator, resolve_seed, rng_scope
from latentinfer.core.trainer import Callback, TrainResult
from latentinfer.core.validation import check_number
from latentinfer.data.fewshot import FewShotTask

__all__ = ["ConjugateGaussianHead", "PrototypicalHead", "prototype_logits"]


def _check_task(task: Any) -> FewShotTask:
    if not isinstance(task, FewShotTask):
        raise ValidationError(
            f"task must be a latentinfer.data.FewShotTask; got {type(task).__name__}."
        )
    return task


def _check_extractor(extractor: Any) -> nn.Module | None:
    if extractor is not None and not isinstance(extractor, nn.Module):
        raise ConfigError(
            f"extractor must be a torch.nn.Module or None; got {type(extractor).__name__}."
        )
    return extractor


def prototype_logits(
    support_f: torch.Tensor, support_y: torch.Tensor, query_f: torch.Tensor, n_way: int
) -> torch.Tensor:
    """Negative squared Euclidean distances of queries to class means (prototypes).

    Args:
        support_f: support features ``(B, S, D)``.
        support_y: labels ``(B, S)`` in ``0 .. n_way - 1``.
        query_f: query features ``(B, Q, D)``.
        n_way: N.

    Returns:
        Logits ``(B, Q, N)``.

    Example:
        >>> s = torch.tensor([[[0.0, 0.0], [2.0, 0.0]]])
        >>> prototype_logits(s, torch.tensor([[0, 1]]), torch.tensor([[[0.5, 0.0]]]), 2).tolist()
        [[[-0.25, -2.25]]]
    """
    onehot = torch.nn.functional.one_hot(support_y, n_way).to(support_f.dtype)  # (B, S, N)
    protos = onehot.transpose(1, 2) @ support_f / onehot.sum(1)[..., None]  # (B, N, D)
    return -torch.cdist(query_f, protos).pow(2)


class _ProtoObjective(EpisodicObjective):
    def episode_loss(
        self,
        support_f: torch.Tensor,
        support_y: torch.Tensor,
        query_f: torch.Tensor,
        query_y: torch.Tensor,
        n_way: int,
    ) -> LossOutput:
        logits = prototype_logits(support_f, support_y, query_f, n_way)
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, n_way), query_y.reshape(-1))
        return LossOutput(total=nll, parts={"query_nll": nll})


class PrototypicalHead(FewShotClassifier):
    """The prototypical-network head: nearest class mean in feature space (Snell et al., 2017).

    A query is given the softmax over classes of minus its squared Euclidean distance to each
    class's mean support feature. ``fit`` meta-trains the extractor with the episodic
    prototypical loss (cross-entropy of the query labels) through the core training loop, or,
    with ``train_extractor=False``, keeps the given extractor as it is.

    Args:
        extractor: the feature extractor, a module mapping rows ``(B, *feature_shape)`` to
            ``(B, D)``; ``None`` builds :func:`~latentinfer.bayes.episodic.default_extractor`
            at ``fit``. It is copied, never changed in place.
        train_extractor: meta-train the extractor at ``fit`` (default ``True``).
        n_episodes: meta-training episodes (rows of the core loop, one pass).
        meta_batch: episodes per optimiser step.
        train_config: :class:`~latentinfer.core.config.TrainConfig` (or a dict of its options)
            over the episodic defaults (Adam 1e-3, one pass, no validation split).
        seed: seeds the extractor's initialisation and the training episodes.

    Example:
        >>> from latentinfer.data import FewShotTask, load
        >>> task = FewShotTask(load("digits"), n_way=5, k_shot=1, n_query=5, test_fraction=0.5)
        >>> head = PrototypicalHead(n_episodes=40, train_config={"progress": False}).fit(task)
        >>> res = head.evaluate(task, 50, seed=0, progress=False)
        >>> res.accuracy > 0.5, res.n_episodes
        (True, 50)
    """

    def __init__(
        self,
        extractor: nn.Module | None = None,
        *,
        train_extractor: bool = True,
        n_episodes: int = 2000,
        meta_batch: int = 4,
        train_config: TrainConfig | dict[str, Any] | None = None,
        seed: int | None = 0,
    ) -> None:
        self.extractor = extractor
        self.train_extractor = train_extractor
        self.n_episodes = n_episodes
        self.meta_batch = meta_batch
        self.train_config = train_config
        self.seed = seed

    def fit(
        self,
        task: FewShotTask,
        *,
        run_dir: str | Path | None = None,
        resume: bool | str | Path = False,
        callbacks: Sequence[Callback] = (),
    ) -> PrototypicalHead:
        """Meta-train the extractor on ``task``'s meta-training episodes; return ``self``."""
        task = _check_task(task)
        _check_extractor(self.extractor)
        check_number(self.n_episodes, name="n_episodes", low=1, integer=True)
        check_number(self.meta_batch, name="meta_batch", low=1, integer=True)
        if not isinstance(self.train_extractor, bool):
            raise ConfigError(
                f"train_extractor must be True or False; got {self.train_extractor!r}."
            )
        seed = resolve_seed(self.seed)
        self.seed_ = seed
        with rng_scope(seed):
            ext = (
                default_extractor(task.feature_shape)
                if self.extractor is None
                else copy.deepcopy(self.extractor)
            )
        if self.train_extractor:
            default = TrainConfig(
                max_epochs=1,
                batch_size=self.meta_batch,
                val_fraction=0.0,
                patience=None,
                restore_best=False,
            )
            cfg = resolve_train_config(self.train_config, default)
            objective = _ProtoObjective(ext, train_extractor=True)
            result: TrainResult = run_episodic_training(
                objective,
                task,
                n_episodes=self.n_episodes,
                config=cfg,
                seed=seed,
                run_dir=run_dir,
                resume=resume,
                callbacks=callbacks,
                run_config={
                    "class": "PrototypicalHead",
                    "params": {"n_episodes": self.n_episodes, "meta_batch": self.meta_batch},
                    "feature_shape": list(task.feature_shape),
                },
            )
            self.train_result_ = result
            ext = objective.extractor
        ext.eval()
        self.extractor_ = ext
        self.feature_shape_ = task.feature_shape
        return self

    def _proba(
        self,
        support_f: torch.Tensor,
        support_y: torch.Tensor,
        query_f: torch.Tensor,
        n_way: int,
        generator: torch.Generator,
    ) -> torch.Tensor:
        return torch.softmax(prototype_logits(support_f, support_y, query_f, n_way), -1)


class ConjugateGaussianHead(FewShotClassifier):
    """Class-conditional Gaussians with a conjugate NIW prior in feature space (a baseline).

    Each class's features are Gaussian with unknown mean and full covariance under a shared
    Normal-Inverse-Wishart prior ``NIW(m₀, κ₀, ν₀, Ψ₀)``; a query is classified by the exact
    posterior predictive of each class (a multivariate Student-t, see
    :mod:`latentinfer.bayes.niw_math`), with equal class priors: Bayesian quadratic
    discriminant analysis. This is *not* Kim & Hospedales's method (:class:`NIWMeta` puts the
    NIW over network weights); it is the exact conjugate model on fixed features.

    ``fit`` sets the prior by empirical Bayes on the meta-training classes' features: ``m₀`` is
    the mean of the class means, ``Ψ₀ = (ν₀ − d − 1) W`` makes the prior mean of Σ the pooled
    within-class covariance ``W`` (shrunk towards its average variance by ``shrinkage``),
    ``κ₀ = tr W / tr B`` matches the spread ``B`` of the class means, and ``ν₀`` (unless given)
    maximises the mean log predictive probability of the query labels over ``n_select``
    meta-training episodes, over ``ν₀ = d + 1 + r·d`` for r in ``nu_grid``.

    Args:
        extractor: the feature extractor (copied; not trained here); ``None`` uses the
            flattened inputs as features.
        kappa0: κ₀ > 0 (default: the moment estimate above).
        nu0: ν₀ > d + 1 (default: chosen on meta-training episodes).
        shrinkage: weight in ``[0, 1]`` of the average variance in ``W`` (default 0.05).
        nu_grid: the ratios r tried for ν₀.
        n_select: meta-training episodes used to choose ν₀.
        dtype: the dtype of the conjugate algebra (default float64).
        seed: seeds the selection episodes.

    Example:
        >>> from latentinfer.data import FewShotTask, load
        >>> task = FewShotTask(load("digits"), n_way=5, k_shot=5, n_query=5, test_fraction=0.5)
        >>> head = ConjugateGaussianHead(n_select=10).fit(task)
        >>> head.evaluate(task, 20, progress=False).accuracy > 0.7
        True
    """

    def __init__(
        self,
        extractor: nn.Module | None = None,
        *,
        kappa0: float | None = None,
        nu0: float | None = None,
        shrinkage: float = 0.05,
        nu_grid: Sequence[float] = (0.25, 1.0, 4.0, 16.0, 64.0),
        n_select: int = 100,
        dtype: torch.dtype = torch.float64,
        seed: int | None = 0,
    ) -> None:
        self.extractor = extractor
        self.kappa0 = kappa0
        self.nu0 = nu0
        self.shrinkage = shrinkage
        self.nu_grid = nu_grid
        self.n_select = n_select
        self.dtype = dtype
        self.seed = seed

    def fit(self, task: FewShotTask) -> ConjugateGaussianHead:
        """Set the NIW prior from the meta-training classes of ``task``; return ``self``."""
        task = _check_task(task)
        _check_extractor(self.extractor)
        check_number(self.kappa0, name="kappa0", low=0, low_inclusive=False, allow_none=True)
        check_number(self.shrinkage, name="shrinkage", low=0, high=1)
        check_number(self.n_select, name="n_select", low=1, integer=True)
        if self.dtype not in (torch.float32, torch.float64):
            raise ConfigError(f"dtype must be torch.float32 or torch.float64; got {self.dtype!r}.")
        if not self.nu_grid:
            raise ConfigError("nu_grid must hold at least one ratio r > 0.")
        for r in self.nu_grid:
            check_number(r, name="nu_grid", low=0, low_inclusive=False)
        seed = resolve_seed(self.seed)
        self.extractor_ = (
            nn.Flatten() if self.extractor is None else copy.deepcopy(self.extractor).eval()
        )
        self.feature_shape_ = task.feature_shape
        classes = task.classes("train")
        y = task.dataset.y
        assert y is not None
        mask = torch.isin(y, classes)
        f = self.features(task.dataset.X[mask]).to(self.dtype)
        labels = torch.searchsorted(classes, y[mask])
        n_classes, d = classes.numel(), f.shape[1]
        onehot = torch.nn.functional.one_hot(labels, n_classes).to(self.dtype)  # (n, C)
        counts = onehot.sum(0)
        means = onehot.T @ f / counts[:, None]  # (C, d)
        resid = f - means[labels]
        within = resid.T @ resid / (f.shape[0] - n_classes)
        avg = torch.diagonal(within).mean()
        within = (1 - self.shrinkage) * within + self.shrinkage * avg * torch.eye(
            d, dtype=self.dtype
        )
        m0 = means.mean(0)
        between = torch.cov(means.T).reshape(d, d)
        # the spread of the class means includes their own sampling noise, W / n_c
        tr_between = float(torch.trace(between) - torch.trace(within) * (1.0 / counts).mean())
        kappa0 = self.kappa0
        if kappa0 is None:
            kappa0 = float(torch.trace(within)) / max(tr_between, 1e-6 * float(torch.trace(within)))
        self.kappa0_ = float(kappa0)
        self.within_ = within
        try:
            check_number(self.nu0, name="nu0", low=d + 1, low_inclusive=False, allow_none=True)
        except ConfigError:
            raise ConfigError(
                f"nu0 must be a finite number > d + 1 = {d + 1} (d = {d}, the feature "
                f"dimension); got {self.nu0!r}."
            ) from None
        candidates = (
            [float(self.nu0)] if self.nu0 is not None else [d + 1 + r * d for r in self.nu_grid]
        )
        scores: dict[float, float] = {}
        for nu in candidates:
            self.prior_ = self._prior(m0, nu, d)
            if len(candidates) == 1:
                break
            scores[nu] = self._select_score(task, seed)
        if scores:
            best = max(scores, key=lambda k: scores[k])
            self.prior_ = self._prior(m0, best, d)
        self.selection_scores_ = scores
        return self

    def _prior(self, m0: torch.Tensor, nu: float, d: int) -> NIWParams:
        return NIWParams(
            mean=m0,
            kappa=torch.tensor(self.kappa0_, dtype=self.dtype),
            nu=torch.tensor(nu, dtype=self.dtype),
            psi=(nu - d - 1) * self.within_,
        )

    @torch.no_grad()
    def _select_score(self, task: FewShotTask, seed: int) -> float:
        n = task.n_way
        total = 0.0
        gen = make_generator(seed)
        for i in range(self.n_select):
            ep = task.episode(i, split="train", seed=seed)
            sf = self.features(ep.support_x)[None]
            qf = self.features(ep.query_x)[None]
            logp = self._log_proba(sf, ep.support_y[None], qf, n, gen)[0]
            total += float(logp.gather(-1, ep.query_y[:, None]).mean())
        return total / self.n_select

    def _log_proba(
        self,
        support_f: torch.Tensor,
        support_y: torch.Tensor,
        query_f: torch.Tensor,
        n_way: int,
        generator: torch.Generator,
    ) -> torch.Tensor:
        sf, qf = support_f.to(self.dtype), query_f.to(self.dtype)
        post = niw_class_posteriors(sf, support_y, n_way, self.prior_)  # batch (B, N)
        t = niw_predictive(post)
        logp = t.log_prob(qf.transpose(0, 1)[:, :, None, :])  # (Q, B, N)
        return torch.log_softmax(logp.transpose(0, 1), -1)  # (B, Q, N)

    def _proba(
        self,
        support_f: torch.Tensor,
        support_y: torch.Tensor,
        query_f: torch.Tensor,
        n_way: int,
        generator: torch.Generator,
    ) -> torch.Tensor:
        lp = self._log_proba(support_f, support_y, query_f, n_way, generator)
        return lp.exp().to(query_f.dtype)
