"""The method index stays complete: every row imports, its files exist, names are unique."""

from __future__ import annotations

from pathlib import Path

import pytest

from latentinfer import ValidationError, methods

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("row", methods.METHODS, ids=lambda m: m.name)
def test_row_is_complete(row: methods.Method) -> None:
    assert row.family in methods.FAMILIES
    assert callable(methods.load_object(row))
    assert (ROOT / row.test).is_file(), f"{row.name}: missing test file {row.test}"
    assert row.benchmark and (ROOT / row.benchmark).is_file(), (
        f"{row.name}: missing benchmark {row.benchmark}"
    )
    assert row.paper and row.year > 2000 and row.maturity in ("stable", "experimental")
    import latentinfer.diagnostics as diag

    for name in row.diagnostics:
        assert hasattr(diag, name), f"{row.name}: unknown diagnostic {name}"


def test_names_are_unique_and_lookup_works() -> None:
    names = [m.name for m in methods.METHODS]
    assert len(names) == len(set(names))
    assert methods.get("ardvae").object_path == "latentinfer.vae.ARDVAE"
    with pytest.raises(ValidationError, match="accepted: vae, ardvae"):
        methods.get("nope")
    with pytest.raises(ValidationError, match="family"):
        methods.by_family("nope")


def test_every_public_vae_model_is_indexed() -> None:

    indexed = {m.object_path for m in methods.METHODS}
    for name in ("VAE", "ARDVAE", "ConditionalVAE", "HierarchicalVAE"):
        assert f"latentinfer.vae.{name}" in indexed
