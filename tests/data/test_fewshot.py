"""Tests of the glyph classes and of episodic few-shot tasks (``latentinfer.data``)."""

from __future__ import annotations

import pytest
import torch

from latentinfer.core.errors import ConfigError, ValidationError
from latentinfer.data import Dataset, FewShotTask, load, load_glyphs


@pytest.fixture(scope="module")
def glyphs() -> Dataset:
    return load_glyphs(n_classes=24, n_per_class=6, seed=0)


# --------------------------------------------------------------------------------------
# glyphs
# --------------------------------------------------------------------------------------


def test_glyphs_shapes_labels_and_range(glyphs):
    assert tuple(glyphs.X.shape) == (144, 1, 16, 16) and glyphs.X.dtype == torch.float32
    assert glyphs.y.tolist() == [c for c in range(24) for _ in range(6)]
    assert float(glyphs.X.min()) >= 0.0 and float(glyphs.X.max()) <= 1.0
    assert glyphs.factor_sizes == (24,) and torch.equal(glyphs.factors[:, 0], glyphs.y)
    assert glyphs.info["likelihood"] == "bernoulli" and "glyphs" in repr(glyphs)


def test_glyphs_are_seeded_and_prefix_stable(glyphs):
    again = load("glyphs", n_classes=24, n_per_class=6, seed=0)
    assert torch.equal(glyphs.X, again.X)
    other = load("glyphs", n_classes=24, n_per_class=6, seed=1)
    assert not torch.equal(glyphs.X, other.X)
    # class c's example e depends only on (seed, c, e)
    small = load("glyphs", n_classes=5, n_per_class=3, seed=0)
    assert torch.equal(small.X, glyphs.X.reshape(24, 6, 1, 16, 16)[:5, :3].reshape(15, 1, 16, 16))


def test_glyph_examples_of_a_class_are_closer_than_other_classes(glyphs):
    # Each class is one template redrawn with jitter: the nearest class mean (leave-one-out)
    # of a raw image is its own class far more often than chance (1/24); 0.5 is a loose bar.
    x = glyphs.X.reshape(24, 6, -1)
    hits = 0
    for e in range(6):
        keep = [i for i in range(6) if i != e]
        means = x[:, keep].mean(1)  # (24, 256)
        hits += int((torch.cdist(x[:, e], means).argmin(1) == torch.arange(24)).sum())
    assert hits / (24 * 6) > 0.5


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"size": 7}, "size"),
        ({"n_classes": 1}, "n_classes"),
        ({"n_per_class": 0}, "n_per_class"),
        ({"jitter": -0.1}, "jitter"),
        ({"noise": 2.0}, "noise"),
        ({"seed": -1}, "seed"),
    ],
)
def test_glyphs_reject_bad_options_naming_them(options, name):
    with pytest.raises(ConfigError, match=name):
        load("glyphs", **options)


# --------------------------------------------------------------------------------------
# episodes
# --------------------------------------------------------------------------------------


def test_splits_are_disjoint_and_cover_every_class(glyphs):
    task = FewShotTask(glyphs, n_way=3, k_shot=2, n_query=3, test_fraction=0.25, val_fraction=0.2)
    train, val, test = (set(task.classes(s).tolist()) for s in ("train", "val", "test"))
    assert len(test) == 6 and len(val) == 5 and len(train) == 13
    assert not (train & val or train & test or val & test)
    assert train | val | test == set(range(24))
    for split, pool in (("train", train), ("val", val), ("test", test)):
        for i in range(20):
            ep = task.episode(i, split=split, seed=3)
            assert set(ep.classes.tolist()) <= pool and ep.classes.unique().numel() == 3


def test_episode_layout_labels_and_rows(glyphs):
    task = FewShotTask(glyphs, n_way=4, k_shot=2, n_query=3, test_fraction=0.5)
    ep = task.episode(5, split="test", seed=1)
    assert tuple(ep.support_x.shape) == (8, 1, 16, 16) and tuple(ep.query_x.shape) == (
        12,
        1,
        16,
        16,
    )
    assert ep.support_y.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert ep.query_y.tolist() == [c for c in range(4) for _ in range(3)] and ep.n_way == 4
    sup, qry = task.episode_rows(5, split="test", seed=1)
    assert torch.equal(glyphs.X[sup], ep.support_x) and torch.equal(glyphs.X[qry], ep.query_x)
    # the data set's class of every row matches the episode's class for its label
    assert torch.equal(glyphs.y[sup], ep.classes[ep.support_y])
    assert torch.equal(glyphs.y[qry], ep.classes[ep.query_y])
    # support and query rows are distinct examples
    assert not set(sup.tolist()) & set(qry.tolist())


def test_episodes_are_reproducible_and_order_free(glyphs):
    task = FewShotTask(glyphs, n_way=5, k_shot=1, n_query=2, test_fraction=0.5)
    a = list(task.episodes(6, split="test", seed=7))
    b = list(task.episodes(3, split="test", seed=7, start=3))
    assert all(torch.equal(x.query_x, y.query_x) for x, y in zip(a[3:], b))
    assert torch.equal(task.episode(2, split="test", seed=7).support_x, a[2].support_x)
    c = task.episode(2, split="test", seed=8)
    assert not torch.equal(c.support_x, a[2].support_x)
    # the class split depends on the task's seed only
    same = FewShotTask(glyphs, n_way=5, k_shot=1, n_query=2, test_fraction=0.5, seed=0)
    assert torch.equal(same.classes("test"), task.classes("test"))
    moved = FewShotTask(glyphs, n_way=5, k_shot=1, n_query=2, test_fraction=0.5, seed=1)
    assert not torch.equal(moved.classes("test"), task.classes("test"))


def test_with_options_keeps_the_split(glyphs):
    task = FewShotTask(glyphs, n_way=5, k_shot=1, n_query=2, test_fraction=0.5)
    five = task.with_options(k_shot=3)
    assert five.k_shot == 3 and torch.equal(five.classes("test"), task.classes("test"))
    with pytest.raises(ConfigError, match="option"):
        task.with_options(shots=3)


def test_digits_give_a_ten_class_task():
    task = FewShotTask(load("digits"), n_way=5, k_shot=5, n_query=15, test_fraction=0.5)
    assert task.classes("train").numel() == 5 == task.classes("test").numel()
    ep = task.episode(0, split="test", seed=0)
    assert tuple(ep.support_x.shape) == (25, 64)


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"n_way": 7}, "n_way"),  # the test split has 6 classes
        ({"n_way": 1}, "n_way"),
        ({"k_shot": 0}, "k_shot"),
        ({"k_shot": 4, "n_query": 3}, "k_shot"),  # 7 > 6 examples per class
        ({"n_query": 0}, "n_query"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"val_fraction": -0.1}, "val_fraction"),
        ({"test_fraction": 0.6, "val_fraction": 0.4}, "val_fraction"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_task_options_raise_naming_them(glyphs, options, name):
    with pytest.raises(ConfigError, match=name):
        FewShotTask(glyphs, **({"n_way": 5, "k_shot": 1, "n_query": 2} | options))


def test_bad_episode_arguments_and_unlabelled_data(glyphs):
    task = FewShotTask(glyphs, n_way=5, k_shot=1, n_query=2)
    with pytest.raises(ConfigError, match="split"):
        task.episode(0, split="valid")
    with pytest.raises(ConfigError, match="index"):
        task.episode(-1)
    with pytest.raises(ConfigError, match="val"):
        task.episode(0, split="val")  # no validation split was asked for
    with pytest.raises(ValidationError, match="labels"):
        FewShotTask(load("sprites", n=50, size=16))
