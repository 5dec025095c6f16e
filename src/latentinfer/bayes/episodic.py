"""Shared machinery of the few-shot classifiers: the front end, evaluation and episodic training.

:class:`FewShotClassifier` is the abstract base of :class:`~latentinfer.bayes.NIWMeta`,
:class:`~latentinfer.bayes.ConjugateGaussianHead` and
:class:`~latentinfer.bayes.PrototypicalHead`. A subclass implements ``_proba``, the class
probabilities of a batch of episodes given their *features*; the base gives the checked
public methods on raw inputs (``predict_proba``, ``predict``, ``evaluate``) and the feature
extractor plumbing. Episodic meta-training goes through the core training loop
(:func:`latentinfer.core.train`) with *episodes as rows*: the rows are episode numbers, a batch
of ``meta_batch`` of them is one optimiser step, and the module draws each episode from the
task with the training seed, so progress bars, NaN guards, metrics, checkpoints and exact
resume come from the core.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from latentinfer.core.config import TrainConfig
from latentinfer.core.errors import ConfigError, NotFittedError, ShapeError, ValidationError
from latentinfer.core.output import LossOutput
from latentinfer.core.progress import TrainProgress
from latentinfer.core.seeding import derive_seed, make_generator, resolve_seed, rng_scope
from latentinfer.core.trainer import Callback, TrainResult, train
from latentinfer.core.validation import as_tensor, check_choice, check_n_features, check_number
from latentinfer.data.fewshot import SPLITS, FewShotTask
from latentinfer.nn.mlp import MLP

__all__ = ["ConvExtractor", "FewShotClassifier", "FewShotEvaluation", "default_extractor"]


@dataclass(frozen=True)
class FewShotEvaluation:
    """Accuracy over held-out episodes, with a 95% interval.

    Attributes:
        accuracy: mean over episodes of the share of query examples classified correctly.
        ci95: half-width of the normal 95% interval of the mean, ``1.96 · sd / √n_episodes``
            (episodes are independent; queries within one episode are not).
        nll: mean negative log probability of the true query labels (nats).
        ece: expected calibration error of the top-class probability, 15 equal-width bins
            over all queries.
        n_episodes, n_way, k_shot, n_query: the protocol.
        split: the classes the episodes were drawn from (``"test"`` normally).
        seed: the episode seed.
        episode_accuracy: the accuracy of each episode, shape ``(n_episodes,)``.
    """

    accuracy: float
    ci95: float
    nll: float
    ece: float
    n_episodes: int
    n_way: int
    k_shot: int
    n_query: int
    split: str
    seed: int
    episode_accuracy: torch.Tensor = field(repr=False)

    @property
    def interval(self) -> tuple[float, float]:
        """``(accuracy − ci95, accuracy + ci95)``."""
        return (self.accuracy - self.ci95, self.accuracy + self.ci95)


class ConvExtractor(nn.Module):
    """Images ``(B, C, H, W)`` → features ``(B, width · h · w)``: conv-ReLU-max-pool blocks.

    Blocks of a 3×3 convolution (``width`` channels), ReLU and 2×2 max pooling are stacked
    until the spatial size is at most 2 (or ``max_blocks`` are used), then flattened, as in
    the Conv-4 backbone of few-shot learning. No batch normalisation, so features of one
    image never depend on the others in its episode.
    """

    def __init__(self, image_shape: Sequence[int], width: int = 32, max_blocks: int = 4) -> None:
        super().__init__()
        c, h, w = (int(s) for s in image_shape)
        layers: list[nn.Module] = []
        while len(layers) // 3 < max_blocks and min(h, w) > 2:
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            c, h, w = width, h // 2, w // 2
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.out_features = c * h * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def default_extractor(feature_shape: Sequence[int], *, width: int = 32) -> nn.Module:
    """The default feature extractor for rows of ``feature_shape``.

    Images ``(C, H, W)`` get a :class:`ConvExtractor`; flat rows ``(d,)`` an MLP
    ``d → 4·width → 2·width``. The module exposes ``out_features``.

    Example:
        >>> net = default_extractor((1, 16, 16))
        >>> net.out_features, tuple(net(torch.zeros(3, 1, 16, 16)).shape)
        (128, (3, 128))
    """
    shape = tuple(int(s) for s in feature_shape)
    if len(shape) == 3:
        return ConvExtractor(shape, width=width)
    if len(shape) == 1:
        return MLP(shape[0], [4 * width], 2 * width)
    raise ShapeError(
        f"the default extractor takes rows of shape (C, H, W) or (d,); got {shape}. Pass "
        "extractor=... for other inputs."
    )


def _like(t: torch.Tensor, ref: Any) -> Any:
    return t if isinstance(ref, torch.Tensor) else t.detach().cpu().numpy()


def resolve_train_config(
    train_config: TrainConfig | dict[str, Any] | None, default: TrainConfig
) -> TrainConfig:
    """``train_config`` (a TrainConfig, a dict of its options or None) over ``default``."""
    if train_config is None:
        return default
    if isinstance(train_config, TrainConfig):
        return train_config
    if isinstance(train_config, dict):
        unknown = sorted(set(train_config) - set(TrainConfig.__dataclass_fields__))
        if unknown:
            raise ConfigError(
                f"train_config has unknown option(s) {unknown}; accepted: "
                f"{sorted(TrainConfig.__dataclass_fields__)}."
            )
        return default.replace(**train_config)
    raise ConfigError(
        f"train_config must be a TrainConfig, a dict of its options, or None; got {train_config!r}."
    )


class EpisodicObjective(nn.Module, abc.ABC):
    """A module whose ``forward(episode_ids)`` is a meta-training loss (for the core loop).

    Subclasses implement :meth:`episode_loss` on features. The task is attached with
    :meth:`attach` before training and is not part of the state dict.
    """

    def __init__(self, extractor: nn.Module, train_extractor: bool) -> None:
        super().__init__()
        self.extractor = extractor
        self.train_extractor = train_extractor
        for p in extractor.parameters():
            p.requires_grad_(train_extractor)
        self._task: FewShotTask | None = None
        self._seed = 0

    def attach(self, task: FewShotTask, seed: int) -> None:
        """Draw training episodes from ``task``'s meta-training classes with ``seed``."""
        self._task, self._seed = task, seed

    @abc.abstractmethod
    def episode_loss(
        self,
        support_f: torch.Tensor,
        support_y: torch.Tensor,
        query_f: torch.Tensor,
        query_y: torch.Tensor,
        n_way: int,
    ) -> LossOutput:
        """The loss of a batch of episodes: features ``(B, S, D)``/``(B, Q, D)``, labels."""

    def forward(self, batch: torch.Tensor) -> LossOutput:
        task = self._task
        assert task is not None, "attach(task, seed) before training"
        ids = batch.reshape(-1).tolist()
        rows = [task.episode_rows(int(i), split="train", seed=self._seed) for i in ids]
        sup = torch.stack([r[0] for r in rows])  # (B, S)
        qry = torch.stack([r[1] for r in rows])  # (B, Q)
        n_way, b, s = task.n_way, sup.shape[0], sup.shape[1]
        device = next(self.parameters()).device
        x = task.dataset.X[torch.cat([sup, qry], 1).reshape(-1)].to(device)
        with torch.set_grad_enabled(self.train_extractor and torch.is_grad_enabled()):
            f = self.extractor(x).reshape(b, -1, self.extractor_dim(x))
        labels = torch.arange(n_way, device=device)
        sy = labels.repeat_interleave(task.k_shot).expand(b, -1)
        qy = labels.repeat_interleave(task.n_query).expand(b, -1)
        return self.episode_loss(f[:, :s], sy, f[:, s:], qy, n_way)

    def extractor_dim(self, x: torch.Tensor) -> int:
        dim = getattr(self.extractor, "out_features", None)
        if dim is None:
            with torch.no_grad():
                dim = int(self.extractor(x[:1]).shape[-1])
        return int(dim)


def check_episode(
    support_x: Any,
    support_y: Any,
    query_x: Any,
    *,
    n_way: int | None = None,
    feature_shape: tuple[int, ...] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Check one episode's inputs; return them as tensors and the number of classes N."""
    sx = as_tensor(support_x, name="support_x", ndim=(2, 3, 4))
    qx = as_tensor(query_x, name="query_x", ndim=(2, 3, 4))
    sy = as_tensor(support_y, name="support_y", ndim=1, dtype=None)
    if sy.is_floating_point() and bool((sy != sy.round()).any()):
        raise ValidationError(f"support_y must hold integer labels; got values like {sy[:5]}.")
    sy = sy.to(torch.int64)
    if sy.shape[0] != sx.shape[0]:
        raise ShapeError(
            f"support_y has {sy.shape[0]} labels but support_x has {sx.shape[0]} rows; give one "
            "label per support row."
        )
    if tuple(qx.shape[1:]) != tuple(sx.shape[1:]):
        raise ShapeError(
            f"query_x has row shape {tuple(qx.shape[1:])} but support_x has "
            f"{tuple(sx.shape[1:])}; both must hold rows of the same shape."
        )
    if feature_shape is not None:
        check_n_features(sx, feature_shape, name="support_x")
    if int(sy.min()) < 0:
        raise ValidationError(
            f"support_y holds the label {int(sy.min())}; labels must lie in 0 .. n_way - 1."
        )
    if n_way is None:
        n_way = int(sy.max()) + 1
    else:
        check_number(n_way, name="n_way", low=2, integer=True)
        if int(sy.max()) >= n_way:
            raise ValidationError(
                f"support_y holds the label {int(sy.max())} but n_way={n_way}; labels must lie "
                f"in 0 .. {n_way - 1}."
            )
    if n_way < 2:
        raise ValidationError(
            "support_y holds only label 0; an episode needs at least 2 classes (labels 0 .. "
            "n_way - 1)."
        )
    counts = torch.bincount(sy, minlength=n_way)
    missing = torch.nonzero(counts == 0).reshape(-1).tolist()
    if missing:
        raise ValidationError(
            f"support_y has no example of class(es) {missing}; every class 0 .. {n_way - 1} "
            "needs at least one support example."
        )
    return sx, sy, qx, n_way


class FewShotClassifier(abc.ABC):
    """Abstract base of the few-shot classifiers (estimator front end over a feature extractor).

    Subclasses set ``extractor_`` and ``feature_shape_`` in ``fit`` and implement ``_proba``.
    """

    extractor_: nn.Module
    feature_shape_: tuple[int, ...]
    seed: int | None

    @abc.abstractmethod
    def _proba(
        self,
        support_f: torch.Tensor,
        support_y: torch.Tensor,
        query_f: torch.Tensor,
        n_way: int,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """Class probabilities ``(B, Q, N)`` from features ``(B, S, D)``, ``(B, Q, D)``."""

    # ------------------------------------------------------------------ helpers
    def _check_fitted(self, what: str) -> None:
        if not hasattr(self, "extractor_"):
            raise NotFittedError(
                f"{type(self).__name__}.{what} needs a fitted model; call fit(task) first."
            )

    def _device(self) -> torch.device:
        p = next(self.extractor_.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    @torch.no_grad()
    def features(self, x: Any, *, batch_size: int = 4096) -> torch.Tensor:
        """The extractor's features of rows ``x`` (shape ``(n, *feature_shape)``) → ``(n, D)``."""
        self._check_fitted("features")
        t = as_tensor(x, name="x", ndim=(2, 3, 4))
        check_n_features(t, self.feature_shape_, name="x")
        self.extractor_.eval()
        dev = self._device()
        out = [self.extractor_(t[i : i + batch_size].to(dev)) for i in range(0, len(t), batch_size)]
        return torch.cat(out).reshape(t.shape[0], -1)

    # ------------------------------------------------------------------ public API
    def predict_proba(
        self,
        support_x: Any,
        support_y: Any,
        query_x: Any,
        *,
        n_way: int | None = None,
        seed: int = 0,
    ) -> Any:
        """Class probabilities of the query rows given a labelled support set.

        Args:
            support_x: support rows, shape ``(S, *feature_shape)``.
            support_y: their labels, integers ``0 .. N - 1``, shape ``(S,)``; every class needs
                at least one example.
            query_x: query rows, shape ``(Q, *feature_shape)``.
            n_way: the number of classes N (default: ``max(support_y) + 1``).
            seed: seed of any sampling the method does (posterior draws).

        Returns:
            Probabilities of shape ``(Q, N)`` (rows sum to 1); NumPy when ``query_x`` was not a
            tensor.

        Raises:
            NotFittedError: before ``fit``.
            ShapeError, ValidationError: malformed inputs (the message names the argument).
        """
        self._check_fitted("predict_proba")
        sx, sy, qx, n = check_episode(
            support_x, support_y, query_x, n_way=n_way, feature_shape=self.feature_shape_
        )
        sf, qf = self.features(sx), self.features(qx)
        dev = sf.device
        gen = make_generator(resolve_seed(seed), dev)
        with torch.no_grad():
            p = self._proba(sf[None], sy[None].to(dev), qf[None], n, gen)[0]
        return _like(p, query_x)

    def predict(
        self,
        support_x: Any,
        support_y: Any,
        query_x: Any,
        *,
        n_way: int | None = None,
        seed: int = 0,
    ) -> Any:
        """The most probable class of each query row, shape ``(Q,)`` (see :meth:`predict_proba`)."""
        p = self.predict_proba(support_x, support_y, query_x, n_way=n_way, seed=seed)
        return p.argmax(-1) if isinstance(p, torch.Tensor) else np.argmax(p, axis=-1)

    @torch.no_grad()
    def evaluate(
        self,
        task: FewShotTask,
        n_episodes: int = 1000,
        *,
        seed: int = 0,
        split: str = "test",
        batch_episodes: int = 50,
        progress: bool | None = None,
    ) -> FewShotEvaluation:
        """Accuracy on ``n_episodes`` episodes of ``task``'s ``split`` with a 95% interval.

        Episode ``i`` is ``task.episode(i, split=split, seed=seed)``, so two methods evaluated
        with the same task and seed see the same episodes (a paired comparison).

        Args:
            task: the few-shot task (its ``n_way``, ``k_shot`` and ``n_query`` are used).
            n_episodes: how many episodes, at least 2.
            seed: the episode seed (also seeds the method's posterior draws).
            split: ``"test"`` (default), ``"val"`` or ``"train"``.
            batch_episodes: episodes classified together.
            progress: show a progress bar (``None``: when stderr is a terminal).

        Returns:
            A :class:`FewShotEvaluation`.
        """
        self._check_fitted("evaluate")
        if not isinstance(task, FewShotTask):
            raise ValidationError(f"task must be a FewShotTask; got {type(task).__name__}.")
        check_number(n_episodes, name="n_episodes", low=2, integer=True)
        check_number(batch_episodes, name="batch_episodes", low=1, integer=True)
        check_choice(split, name="split", choices=SPLITS)
        seed = resolve_seed(seed)
        check_n_features(task.dataset.X, self.feature_shape_, name="task.dataset.X")
        accs: list[torch.Tensor] = []
        nlls: list[torch.Tensor] = []
        confs: list[torch.Tensor] = []
        hits: list[torch.Tensor] = []
        n, k, q = task.n_way, task.k_shot, task.n_query
        dev = self._device()
        bar = TrainProgress(n_episodes, enabled=progress, description="evaluating")
        with bar:
            for start in range(0, n_episodes, batch_episodes):
                ids = range(start, min(n_episodes, start + batch_episodes))
                rows = [task.episode_rows(i, split=split, seed=seed) for i in ids]
                sup = torch.stack([r[0] for r in rows])
                qry = torch.stack([r[1] for r in rows])
                b = sup.shape[0]
                f = self.features(task.dataset.X[torch.cat([sup, qry], 1).reshape(-1)])
                f = f.reshape(b, n * (k + q), -1)
                labels = torch.arange(n, device=dev)
                sy = labels.repeat_interleave(k).expand(b, -1)
                qy = labels.repeat_interleave(q).expand(b, -1)
                gen = make_generator(derive_seed(seed, start), dev)
                p = self._proba(f[:, : n * k], sy, f[:, n * k :], n, gen)
                hit = (p.argmax(-1) == qy).double()
                accs.append(hit.mean(-1).cpu())
                picked = p.gather(-1, qy[..., None]).squeeze(-1).double()
                nlls.append(-picked.clamp_min(1e-300).log().reshape(-1).cpu())
                confs.append(p.amax(-1).double().reshape(-1).cpu())
                hits.append(hit.reshape(-1).cpu())
                bar.update(start + b, note=f"accuracy {float(torch.cat(accs).mean()):.3f}")
        acc = torch.cat(accs)
        sd = float(acc.std()) if acc.numel() > 1 else math.nan
        return FewShotEvaluation(
            accuracy=float(acc.mean()),
            ci95=1.96 * sd / math.sqrt(acc.numel()),
            nll=float(torch.cat(nlls).mean()),
            ece=expected_calibration_error(torch.cat(confs), torch.cat(hits)),
            n_episodes=int(acc.numel()),
            n_way=n,
            k_shot=k,
            n_query=q,
            split=split,
            seed=seed,
            episode_accuracy=acc,
        )


def expected_calibration_error(
    confidence: torch.Tensor, correct: torch.Tensor, n_bins: int = 15
) -> float:
    """ECE: the bin-weighted gap between mean confidence and accuracy, equal-width bins.

    Example:
        >>> conf = torch.tensor([0.9, 0.9], dtype=torch.float64)  # one query right, one wrong
        >>> expected_calibration_error(conf, torch.tensor([1.0, 0.0]))
        0.4
    """
    edges = torch.linspace(0, 1, n_bins + 1, dtype=confidence.dtype)
    idx = torch.bucketize(confidence, edges[1:-1], right=True)
    total = 0.0
    for b in range(n_bins):
        m = idx == b
        if bool(m.any()):
            gap = (confidence[m].mean() - correct[m].to(confidence.dtype).mean()).abs()
            total += float(gap) * int(m.sum())
    return round(total / max(1, confidence.numel()), 12)


def run_episodic_training(
    objective: EpisodicObjective,
    task: FewShotTask,
    *,
    n_episodes: int,
    config: TrainConfig,
    seed: int,
    run_dir: str | Path | None,
    resume: bool | str | Path,
    callbacks: Sequence[Callback],
    run_config: dict[str, Any],
) -> TrainResult:
    """Meta-train ``objective`` on ``n_episodes`` meta-training episodes through the core loop."""
    objective.attach(task, seed)
    ids = torch.arange(n_episodes, dtype=torch.int64)
    with rng_scope(seed):
        return train(
            objective,
            ids,
            config,
            seed=seed,
            run_dir=run_dir,
            resume=resume,
            callbacks=callbacks,
            run_config=run_config,
        )
