"""The finiteness check: exact whatever the magnitude, and named in the error."""

from __future__ import annotations

import pytest
import torch

from latentinfer.core import ConfigError, ValidationError
from latentinfer.core.validation import check_finite


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_finite_values_whose_sum_overflows_pass(dtype: torch.dtype) -> None:
    big = torch.finfo(dtype).max
    check_finite(torch.full((8,), big, dtype=dtype), name="x")  # the sum is inf, no entry is


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_non_finite_entry_is_named(bad: float) -> None:
    x = torch.zeros(3, 4)
    x[2, 1] = bad
    kind = "NaN" if bad != bad else "Inf"
    with pytest.raises(
        ValidationError, match=rf"x holds 1 non-finite .*{kind} first at index \(2, 1\)"
    ):
        check_finite(x, name="x")


def test_nan_beside_an_overflow_is_still_found() -> None:
    x = torch.full((5,), torch.finfo(torch.float32).max)
    x[3] = float("nan")
    with pytest.raises(ValidationError, match=r"NaN first at index \(3,\)"):
        check_finite(x, name="x")


def test_a_mistyped_choice_gets_a_suggestion() -> None:
    from latentinfer.core.validation import check_choice

    with pytest.raises(ConfigError, match=r"got 'gausian'\. Did you mean 'gaussian'\?"):
        check_choice("gausian", name="likelihood", choices=("gaussian", "bernoulli"))
    with pytest.raises(ConfigError, match=r"got 'zzz'\.$"):  # nothing close: no guess
        check_choice("zzz", name="likelihood", choices=("gaussian", "bernoulli"))
