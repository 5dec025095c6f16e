"""Episodic N-way K-shot tasks over the classes of a labelled data set.

A :class:`FewShotTask` splits the classes of a :class:`~latentinfer.data.Dataset` (one with
``y``) into disjoint meta-training, validation and meta-test classes with a seeded
permutation, and draws episodes from one split: ``n_way`` classes without replacement, then
``k_shot + n_query`` distinct examples of each, the first ``k_shot`` forming the support set
and the rest the query set. Labels inside an episode are ``0 .. n_way - 1`` in the order the
classes were drawn. Episode ``i`` of a split is a function of ``(seed, split, i)`` alone, so
a set of episodes can be redrawn in any order, by any process, and methods compared on the
very same episodes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from latentinfer.core.errors import ConfigError, ValidationError
from latentinfer.core.seeding import derive_seed
from latentinfer.core.validation import check_choice, check_number
from latentinfer.data.registry import Dataset, check_seed

__all__ = ["SPLITS", "Episode", "FewShotTask"]

SPLITS = ("train", "val", "test")


@dataclass(frozen=True, eq=False)
class Episode:
    """One N-way K-shot episode.

    Attributes:
        support_x: the support inputs, shape ``(n_way * k_shot, *feature_shape)``, class by
            class (the ``k_shot`` examples of label 0 first).
        support_y: their labels, int64 of shape ``(n_way * k_shot,)``, values ``0 .. n_way-1``.
        query_x: the query inputs, shape ``(n_way * n_query, *feature_shape)``, class by class.
        query_y: their labels, int64 of shape ``(n_way * n_query,)``.
        classes: the data set's class of each episode label, int64 of shape ``(n_way,)``.
    """

    support_x: torch.Tensor
    support_y: torch.Tensor
    query_x: torch.Tensor
    query_y: torch.Tensor
    classes: torch.Tensor

    @property
    def n_way(self) -> int:
        """The number of classes in the episode."""
        return int(self.classes.shape[0])


@dataclass(frozen=True, eq=False)
class FewShotTask:
    """N-way K-shot episodes over disjoint meta-training / validation / meta-test classes.

    Args:
        dataset: a labelled data set (``dataset.y`` of shape ``(n,)``), e.g.
            ``load("glyphs")`` or ``load("digits")``.
        n_way: classes per episode (N), at least 2 and at most the classes of each split used.
        k_shot: support examples per class (K), at least 1.
        n_query: query examples per class (Q), at least 1; every class of a split must have
            at least ``k_shot + n_query`` examples.
        test_fraction: share of the classes held out for meta-testing, in ``(0, 1)``; the test
            split gets ``round(test_fraction * n_classes)`` classes (at least one).
        val_fraction: share of the classes kept for validation (hyperparameter choice), in
            ``[0, 1)``; 0 (default) gives no validation split.
        seed: seed of the class split (episodes take their own seed, see :meth:`episode`).

    Raises:
        ValidationError: ``dataset`` has no labels.
        ConfigError: an option is out of range, a split would be empty or hold fewer than
            ``n_way`` classes, or a class has fewer than ``k_shot + n_query`` examples.

    Example:
        >>> from latentinfer.data import FewShotTask, load
        >>> task = FewShotTask(load("glyphs", n_classes=20, n_per_class=6), n_way=5, k_shot=1,
        ...                    n_query=5, test_fraction=0.5, seed=0)
        >>> ep = task.episode(0, split="test", seed=1)
        >>> tuple(ep.support_x.shape), tuple(ep.query_x.shape), ep.support_y.tolist()
        ((5, 1, 16, 16), (25, 1, 16, 16), [0, 1, 2, 3, 4])
        >>> set(ep.classes.tolist()) <= set(task.classes("test").tolist())
        True
    """

    dataset: Dataset
    n_way: int = 5
    k_shot: int = 1
    n_query: int = 15
    test_fraction: float = 0.25
    val_fraction: float = 0.0
    seed: int = 0
    _members: dict[str, list[np.ndarray]] = field(init=False, repr=False)
    _classes: dict[str, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        ds = self.dataset
        if not isinstance(ds, Dataset) or ds.y is None or ds.y.ndim != 1:
            raise ValidationError(
                "dataset must be a latentinfer Dataset with labels y of shape (n,) (for "
                f"instance load('glyphs')); got {type(ds).__name__}"
                + ("" if not isinstance(ds, Dataset) else " without 1-D labels")
                + "."
            )
        check_number(self.n_way, name="n_way", low=2, integer=True)
        check_number(self.k_shot, name="k_shot", low=1, integer=True)
        check_number(self.n_query, name="n_query", low=1, integer=True)
        check_number(
            self.test_fraction,
            name="test_fraction",
            low=0.0,
            high=1.0,
            low_inclusive=False,
            high_inclusive=False,
        )
        check_number(
            self.val_fraction, name="val_fraction", low=0.0, high=1.0, high_inclusive=False
        )
        check_seed(self.seed)
        y = ds.y.cpu().numpy()
        labels = np.unique(y)
        n_classes = labels.size
        n_test = max(1, round(self.test_fraction * n_classes))
        n_val = round(self.val_fraction * n_classes) if self.val_fraction > 0 else 0
        if self.val_fraction > 0:
            n_val = max(1, n_val)
        if n_classes - n_test - n_val < 1:
            raise ConfigError(
                f"test_fraction={self.test_fraction} and val_fraction={self.val_fraction} leave "
                f"no meta-training class out of {n_classes}; lower them."
            )
        perm = labels[np.random.default_rng(self.seed).permutation(n_classes)]
        classes = {
            "test": np.sort(perm[:n_test]),
            "val": np.sort(perm[n_test : n_test + n_val]),
            "train": np.sort(perm[n_test + n_val :]),
        }
        order = np.argsort(y, kind="stable")
        bounds = np.searchsorted(y[order], labels)
        ends = np.append(bounds[1:], y.size)
        rows = {int(c): order[b:e] for c, b, e in zip(labels, bounds, ends)}
        need = self.k_shot + self.n_query
        smallest = min(rows.values(), key=len)
        if smallest.size < need:
            worst = int(y[smallest[0]])
            raise ConfigError(
                f"k_shot + n_query = {self.k_shot} + {self.n_query} = {need} examples per class "
                f"are needed but class {worst} has only {smallest.size}; lower k_shot or n_query "
                "(or draw more examples per class)."
            )
        object.__setattr__(self, "_classes", classes)
        object.__setattr__(
            self, "_members", {s: [rows[int(c)] for c in classes[s]] for s in SPLITS}
        )
        for split in SPLITS:
            k = classes[split].size
            if k and k < self.n_way:
                raise ConfigError(
                    f"n_way={self.n_way} classes per episode but the {split!r} split has only "
                    f"{k} class(es); lower n_way or change test_fraction/val_fraction."
                )

    # ----------------------------------------------------------------------------------
    @property
    def feature_shape(self) -> tuple[int, ...]:
        """The shape of one input row."""
        return tuple(int(s) for s in self.dataset.X.shape[1:])

    def classes(self, split: str = "train") -> torch.Tensor:
        """The data set's classes in ``split`` (``"train"``, ``"val"`` or ``"test"``), sorted."""
        check_choice(split, name="split", choices=SPLITS)
        return torch.from_numpy(self._classes[split].copy())

    def with_options(self, **options: int) -> FewShotTask:
        """The same data and class split with other ``n_way``, ``k_shot`` or ``n_query``."""
        allowed = ("n_way", "k_shot", "n_query")
        for k in options:
            check_choice(k, name="option", choices=allowed)
        params = {
            "n_way": self.n_way,
            "k_shot": self.k_shot,
            "n_query": self.n_query,
            "test_fraction": self.test_fraction,
            "val_fraction": self.val_fraction,
            "seed": self.seed,
        }
        return FewShotTask(self.dataset, **(params | options))  # type: ignore[arg-type]

    def _rows(self, index: int, split: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
        members = self._members[split]
        if not members:
            raise ConfigError(
                f"the {split!r} split has no classes; pass val_fraction > 0 to get a validation "
                "split."
            )
        rng = np.random.default_rng(derive_seed(seed, SPLITS.index(split), index))
        picked = rng.choice(len(members), size=self.n_way, replace=False)
        need = self.k_shot + self.n_query
        rows = np.stack([rng.choice(members[p], size=need, replace=False) for p in picked])
        return rows, self._classes[split][picked]  # (n_way, K + Q), (n_way,)

    def episode_rows(
        self, index: int, *, split: str = "train", seed: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows of episode ``index`` in ``dataset``: support ``(N*K,)`` and query ``(N*Q,)``."""
        check_choice(split, name="split", choices=SPLITS)
        check_number(index, name="index", low=0, integer=True)
        seed = check_seed(seed)
        rows, _ = self._rows(int(index), split, seed)
        k = self.k_shot
        return (
            torch.from_numpy(rows[:, :k].reshape(-1).copy()),
            torch.from_numpy(rows[:, k:].reshape(-1).copy()),
        )

    def episode(self, index: int, *, split: str = "train", seed: int = 0) -> Episode:
        """Episode ``index`` of ``split``, a function of ``(seed, split, index)`` only.

        Args:
            index: the episode's number, a non-negative integer.
            split: ``"train"`` (meta-training classes), ``"val"`` or ``"test"``.
            seed: the episode stream's seed.

        Returns:
            An :class:`Episode`.
        """
        check_choice(split, name="split", choices=SPLITS)
        check_number(index, name="index", low=0, integer=True)
        seed = check_seed(seed)
        rows, classes = self._rows(int(index), split, seed)
        k, q, n = self.k_shot, self.n_query, self.n_way
        X = self.dataset.X
        labels = torch.arange(n, dtype=torch.int64)
        return Episode(
            support_x=X[torch.from_numpy(rows[:, :k].reshape(-1).copy())],
            support_y=labels.repeat_interleave(k),
            query_x=X[torch.from_numpy(rows[:, k:].reshape(-1).copy())],
            query_y=labels.repeat_interleave(q),
            classes=torch.from_numpy(classes.astype(np.int64)),
        )

    def episodes(
        self, n: int, *, split: str = "train", seed: int = 0, start: int = 0
    ) -> Iterator[Episode]:
        """Episodes ``start .. start + n - 1`` of ``split`` (see :meth:`episode`)."""
        check_number(n, name="n", low=1, integer=True)
        check_number(start, name="start", low=0, integer=True)
        for i in range(start, start + n):
            yield self.episode(i, split=split, seed=seed)
