"""Our HGF against pyhgf 0.2.12 itself, run here (skipped without pyhgf: the ``bench-hgf``
extra). CI checks the committed trajectories (``test_hgf_exactness.py``); this test checks
that those trajectories are what pyhgf computes, and our filter against pyhgf directly."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("pyhgf", reason="pyhgf is not installed (pip install -e '.[bench-hgf]')")
if importlib.metadata.version("pyhgf") != "0.2.12":
    pytest.skip("these checks are for pyhgf 0.2.12 (the bench-hgf extra)", allow_module_level=True)

import jax
from pyhgf.model import HGF as PyHGF

from latentinfer.bayes import HGF

jax.config.update("jax_enable_x64", True)

REF = np.load(Path(__file__).parent / "data" / "hgf_reference_pyhgf_0.2.12.npz")
CASES = ["continuous2_eHGF", "continuous3_standard", "binary3_eHGF", "continuous2_eHGF_missing"]
QUANTITIES = ("mean", "precision", "expected_mean", "expected_precision")


@pytest.mark.parametrize("case", CASES)
def test_pyhgf_computes_the_committed_reference_and_we_match_it(case: str) -> None:
    kwargs = json.loads(str(REF[f"{case}/kwargs"]))
    u, dt = REF[f"{case}/input"], REF[f"{case}/time_steps"]
    observed = REF[f"{case}/observed"]
    theirs = PyHGF(**kwargs)
    theirs.input_data(input_data=u, time_steps=dt, observed=observed)
    ours = HGF(**kwargs).filter(
        torch.tensor(u, dtype=torch.float64),
        time_steps=None if np.all(dt == 1) else torch.tensor(dt),
        observed=None if np.all(observed == 1) else torch.tensor(observed, dtype=torch.float64),
        surprise=("pyhgf", "nlpd"),
    )
    checked = 0
    for node, beliefs in ours.node_trajectories.items():
        for q in QUANTITIES:
            if q not in beliefs or f"{case}/node{node}/{q}" not in REF.files:
                continue
            live = np.asarray(theirs.node_trajectories[node][q], dtype=np.float64)
            scale = float(np.abs(live).max())
            np.testing.assert_allclose(
                REF[f"{case}/node{node}/{q}"],
                live,
                rtol=1e-12,
                atol=1e-12 * scale,
                err_msg=f"reference {node} {q}",
            )
            np.testing.assert_allclose(beliefs[q].numpy(), live, rtol=1e-10, atol=1e-10 * scale,
                                       err_msg=f"ours {node} {q}")  # fmt: skip
            checked += 1
    assert checked >= 6
    seen = observed == 1
    live_surprise = np.asarray(theirs.surprise(), dtype=np.float64)
    np.testing.assert_allclose(
        ours.surprise_per_step("pyhgf").numpy()[seen], live_surprise[seen], rtol=1e-10, atol=1e-10
    )
