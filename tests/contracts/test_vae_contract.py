"""One contract test over every model row of the vae family in the method index.

A model is tested by appearing in ``latentinfer.methods``: its distributions have the
contract's shapes, its loss parts sum to the total, gradients reach every parameter, the
same seed gives the same numbers, save/load round-trips, and the IWAE bound is finite.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from latentinfer import methods
from latentinfer.testing import check_latent_model
from latentinfer.vae import LatentVariableModel

MODELS = [m for m in methods.by_family("vae") if m.kind == "model"]


def _data(model_cls: type, n: int = 64) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    x = rng.random((n, 6)).round().astype(np.float32)
    if getattr(model_cls, "n_cond", 0):
        return x, rng.normal(size=(n, 2)).astype(np.float32)
    return (x,)


@pytest.mark.parametrize("row", MODELS, ids=lambda m: m.name)
def test_latent_model_contract(row: methods.Method, tmp_path: Path) -> None:
    cls = methods.load_object(row)
    data = _data(cls)

    def make() -> LatentVariableModel:
        return cls(latent_dim=3, hidden=(16,), seed=0)

    report = check_latent_model(make, data, tmp_path=tmp_path)
    assert report.passed, report.failures


def test_every_model_row_is_a_latent_variable_model() -> None:
    for row in MODELS:
        assert issubclass(methods.load_object(row), LatentVariableModel), row.name
    assert {m.name for m in MODELS} >= {"vae", "ardvae", "cvae", "hvae"}


def test_checker_catches_a_broken_model(tmp_path: Path) -> None:
    from latentinfer.vae import VAE

    class Broken(VAE.__mro__[1]):  # type: ignore[misc, valid-type]
        """A model whose loss parts do not add up to its total."""

        def loss(self, batch):  # type: ignore[no-untyped-def]
            out = super().loss(batch)
            return type(out)(total=out.total + 1.0, parts=out.parts, stats=out.stats)

    Broken.__module__ = __name__
    report = check_latent_model(
        lambda: Broken(latent_dim=2, hidden=(8,), seed=0), _data(VAE), tmp_path=tmp_path
    )
    assert not report.passed
    assert any("sum" in f for f in report.failures)
    torch.manual_seed(0)
