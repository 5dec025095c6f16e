"""All diagnostics of a fitted model in one call: the table the command line prints."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from latentinfer.core.errors import ShapeError
from latentinfer.diagnostics.activity import check_activity, run_activity
from latentinfer.diagnostics.collapse import check_collapse, run_collapse
from latentinfer.diagnostics.disentanglement import dci, mig
from latentinfer.diagnostics.relevance import check_relevance, run_relevance
from latentinfer.diagnostics.representation import check_mean_vs_sampled, run_mean_vs_sampled
from latentinfer.vae.base import LatentVariableModel

__all__ = ["Diagnosis", "diagnose"]

# How each summary key reads in the printed table: the criterion is part of the name, so
# counts from different criteria are not mistaken for one another.
LABELS = {
    "active_units": "active units (Var_x E[z|x] > 0.01)",
    "active_dims": "active dims (by index)",
    "informative_dims": "informative dims (KL > 0.01 nats)",
    "total_kl": "total KL (nats)",
    "levels": "collapsed dims per level",
    "fully_collapsed_levels": "levels with every dim collapsed",
    "relevant": "relevant dims",
    "relevant_dims": "relevant dims (most relevant first)",
    "corr_mean_all": "mean |r|, mean representation",
    "corr_sampled_all": "mean |r|, sampled representation",
    "corr_mean_without_passive": "mean |r|, mean repr. without passive",
    "corr_sampled_without_passive": "mean |r|, sampled repr. without passive",
    "passive_inflate_mean_correlation": "passive variables inflate mean |r|",
}


@dataclass
class Diagnosis:
    """The summaries of every diagnostic that applies to a model.

    Attributes:
        model: the model's class name.
        sections: section name → summary dict (``activity``, ``collapse``,
            ``mean_vs_sampled``, ``relevance``, and ``disentanglement`` when factors are
            given).
        figures: figure name → PNG path.
    """

    model: str
    sections: dict[str, dict[str, Any]]
    figures: dict[str, Path] = field(default_factory=dict)

    def rows(self) -> list[tuple[str, str, str]]:
        """``(section, quantity, value)`` rows for printing."""
        out = []
        for section, summary in self.sections.items():
            for k, v in summary.items():
                if isinstance(v, float):
                    text = f"{v:.4g}"
                elif isinstance(v, list) and len(v) > 12:
                    text = f"{v[:12]} … ({len(v)})"
                else:
                    text = str(v)
                out.append((section, LABELS.get(k, k.replace("_", " ")), text))
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "model": self.model,
            "sections": self.sections,
            "figures": {k: str(v) for k, v in self.figures.items()},
        }


def diagnose(
    model: LatentVariableModel,
    data: Any,
    *,
    factors: Any | None = None,
    figures_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
    max_rows: int = 5000,
    with_dci: bool = True,
    dci_rows: int = 2000,
) -> Diagnosis:
    """Run every diagnostic on ``data`` (at most ``max_rows`` rows) and draw the figures.

    Args:
        model: a fitted model meeting the latent-model contract.
        data: ``X`` (or ``(X, C)`` for conditional models).
        factors: ``(n, n_factors)`` ground-truth discrete factors of ``data``'s rows, for MIG
            and DCI; ``None`` skips them. With one factor, DCI's disentanglement is left out
            (it is 1 whatever the codes).
        figures_dir: where to write ``kl_per_dim.png`` and ``traversal.png`` (``None``: no
            figures).
        seed: seed of the Monte Carlo parts.
        max_rows: rows used (the first ones), to keep the report fast.
        with_dci: compute DCI (gradient-boosted trees per factor: the slowest part).
        dci_rows: rows used for DCI.

    Returns:
        :class:`Diagnosis`.
    """
    from latentinfer.core.validation import check_number

    dci_runs = factors is not None and with_dci
    # DCI's train/test split needs 10 rows; the other diagnostics run on any number
    check_number(max_rows, name="max_rows", low=10 if dci_runs else 1, integer=True)
    check_number(dci_rows, name="dci_rows", low=10, integer=True)
    parts = data if isinstance(data, tuple) else (data,)
    n_rows = len(parts[0])
    parts = tuple(p[:max_rows] for p in parts)
    data = parts if len(parts) > 1 else parts[0]
    if factors is not None and len(factors) != n_rows:
        raise ShapeError(
            f"factors has {len(factors)} row(s) but data has {n_rows}; pass one row of factors "
            "per row of data."
        )
    activity = run_activity(model, data, seed=seed)
    sections: dict[str, dict[str, Any]] = {"activity": check_activity(activity)}
    sections["collapse"] = check_collapse(run_collapse(model, data, seed=seed))
    sections["mean_vs_sampled"] = check_mean_vs_sampled(run_mean_vs_sampled(model, data, seed=seed))
    relevance = run_relevance(model, data)
    sections["relevance"] = check_relevance(relevance)
    if factors is not None:
        f = np.asarray(factors)[:max_rows]
        codes = model.transform(*parts)
        codes = np.asarray(codes)
        m = mig(codes, f)
        sections["disentanglement"] = {"mig": m.score}
        if with_dci:
            d = dci(codes[:dci_rows], f[:dci_rows], seed=seed)
            if f.ndim > 1 and f.shape[1] > 1:  # with one factor it is 1 by definition
                sections["disentanglement"]["dci_disentanglement"] = d.disentanglement
            sections["disentanglement"] |= {
                "dci_completeness": d.completeness,
                "dci_informativeness": d.informativeness_test,
            }
    figures: dict[str, Path] = {}
    if figures_dir is not None:
        from latentinfer.diagnostics.traversal import run_traversal
        from latentinfer.plots import plot_kl_per_dim, plot_traversal

        out = Path(figures_dir)
        figures["kl_per_dim"] = plot_kl_per_dim(
            activity.kl_per_dim,
            out / "kl_per_dim.png",
            highlight=relevance.relevant_dims,
            highlight_label=f"relevant ({relevance.source})",
        )
        if not getattr(model, "n_cond", 0):
            # the informative dimensions, most informative first (at most 10)
            order = np.argsort(-activity.kl_per_dim, kind="stable")
            dims = [int(j) for j in order if activity.informative[j]][:10] or [int(order[0])]
            trav = run_traversal(model, parts[0], dims=dims)
            shown = f"{len(dims)} most informative of {len(activity.kl_per_dim)} latent dims"
            figures["traversal"] = plot_traversal(
                trav, out / "traversal.png", title=f"latent traversals ({shown})"
            )
    return Diagnosis(model=type(model).__name__, sections=sections, figures=figures)
