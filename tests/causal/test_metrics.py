"""√PEHE, ATE error and interval coverage against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from latentinfer import ShapeError, ValidationError
from latentinfer.causal.metrics import ate_error, interval_coverage, pehe, score_effects


def test_scores_match_their_definitions() -> None:
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    est = np.array([1.0, 3.0, 3.0, 2.0])
    assert pehe(est, truth) == pytest.approx(np.sqrt((0 + 1 + 0 + 4) / 4))
    assert ate_error(est, truth) == pytest.approx(abs(9 / 4 - 10 / 4))
    assert interval_coverage(est - 0.5, est + 0.5, truth) == pytest.approx(0.5)
    s = score_effects(est, truth, lower=est - 1, upper=est + 1)
    assert s.coverage == pytest.approx(0.75) and s.mean_width == pytest.approx(2.0)
    assert s.to_dict()["true_ate"] == pytest.approx(2.5)
    assert score_effects(est, truth).coverage is None


def test_scores_reject_mismatched_or_partial_input() -> None:
    with pytest.raises(ShapeError):
        pehe(np.zeros(3), np.zeros(4))
    with pytest.raises(ValidationError, match="both lower and upper"):
        score_effects(np.zeros(3), np.zeros(3), lower=np.zeros(3))


def test_a_single_ate_is_checked_like_arrays() -> None:
    truth = np.array([1.0, 2.0, 3.0])
    assert ate_error(2.5, truth) == pytest.approx(0.5)
    assert ate_error(np.float32(2.5), truth) == pytest.approx(0.5)
    for bad in (float("nan"), np.inf, np.float64("nan")):
        with pytest.raises(ValidationError, match="estimate holds 1 non-finite"):
            ate_error(bad, truth)
    with pytest.raises(ValidationError, match="estimate holds 1 non-finite"):
        ate_error(np.array([1.0, np.nan, 3.0]), truth)  # as an array always was
