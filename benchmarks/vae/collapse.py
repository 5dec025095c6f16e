"""Posterior collapse in conditional and hierarchical VAEs (Dang et al., ICLR 2024).

Claims reproduced at CPU scale:

A. Linear CVAE: latent dimension i collapses iff θ_i < β η², θ the eigenvalues of the
   residual covariance of the output given the input, so a stronger input–output
   correlation ρ collapses more dimensions. We sweep ρ and compare the detector's count
   (mean KL < 0.01 nats or an inactive posterior mean) with the theory's.
B. The same trend with MLP encoders and decoders (no theory; the count must grow with ρ).
C. Linear two-level MHVAE with fixed first-level encoder variance σ₁² and learnable Σ₂:
   Theorem 3 predicts which z₂ (and z₁) dimensions collapse as σ₁² shrinks; we compare.
   A learnable σ₁ shrinks during training and pushes z₂ into collapse: we report the
   learned σ₁², the theory's prediction at that value, and the observed collapse.
D. The same contrast (learnable vs fixed σ₁²) with MLP networks.

    python benchmarks/vae/collapse.py            # full run (~2 min on 1 thread)
    python benchmarks/vae/collapse.py --quick
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from _common import print_table, setup, write_result
from latentinfer.diagnostics import (
    canonical_correlations,
    predict_linear_collapse,
    predict_linear_hvae_collapse,
    run_collapse,
)
from latentinfer.vae import ConditionalVAE, HierarchicalVAE

ETA = 0.5  # decoder noise scale η (the paper's synthetic study uses 0.5)


def cvae_data(rho: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Output Y (12-d, variances 4 … 0.1) and input C correlated with it by ρ per axis."""
    rng = np.random.default_rng(seed)
    lam = np.geomspace(4.0, 0.1, 12)
    q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    u = rng.normal(size=(n, 12))
    y = (u * np.sqrt(lam)) @ q.T
    c = rho * u + np.sqrt(1 - rho**2) * rng.normal(size=(n, 12))
    return y.astype(np.float32), c.astype(np.float32)


def hvae_data(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    lam = np.geomspace(4.0, 0.1, 10)
    return ((rng.normal(size=(n, 10)) * np.sqrt(lam)) @ q.T).astype(np.float32)


def main() -> None:
    args = setup(__doc__.splitlines()[0])
    n = 1000 if args.quick else 4000
    epochs = 30 if args.quick else 400
    rhos = (0.0, 0.9) if args.quick else (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99)
    fit = {"max_epochs": epochs, "lr": 3e-3, "progress": False}

    cvae_rows = []
    for rho in rhos:
        y, c = cvae_data(rho, n, seed=0)
        pred = predict_linear_collapse(y, c, latent_dim=12, beta=1.0, obs_scale=ETA)
        row = {
            "rho": rho,
            "canonical_corr_max": float(canonical_correlations(c, y)[0]),
            "predicted": pred.n_collapsed,
        }
        for name, hidden in (("linear", ()), ("mlp", (64, 64))):
            model = ConditionalVAE(
                latent_dim=12,
                hidden=hidden,
                likelihood="gaussian",
                obs_scale=ETA,
                posterior_variance="shared",
                seed=0,
            )
            model.fit(y, c, **fit)
            row[name] = run_collapse(model, (y, c)).n_collapsed
        cvae_rows.append(row)
        print_table(
            ["rho", "max canonical r", "theory", "linear CVAE", "MLP CVAE"],
            [[rho, row["canonical_corr_max"], row["predicted"], row["linear"], row["mlp"]]],
        )

    x = hvae_data(n, seed=0)
    hvae_rows = []
    sigmas: list[float | str] = ["shared", 1.0, 0.3, 0.1, 0.03, 0.01]
    if args.quick:
        sigmas = ["shared", 0.01]
    for s1 in sigmas:
        for name, hidden in (("linear", ()), ("mlp", (64,))):
            model = HierarchicalVAE(
                latent_dim=4,
                top_latent_dim=4,
                hidden=hidden,
                top_hidden=hidden,
                likelihood="gaussian",
                obs_scale=ETA,
                z1_scale=ETA,
                posterior_variance=s1,
                top_posterior_variance="shared",
                seed=0,
            )
            model.fit(x, **fit)
            res = run_collapse(model, x)
            learned = (
                float(np.exp(model.shared_logvar.detach().numpy()).mean())
                if s1 == "shared"
                else float(s1)
            )
            pred = predict_linear_hvae_collapse(
                x, latent_dims=(4, 4), sigma1_sq=learned, obs_scale=ETA
            )
            hvae_rows.append(
                {
                    "network": name,
                    "sigma1_sq": s1,
                    "sigma1_sq_used": learned,
                    "pred_z1": int(pred.z1_collapsed.sum()),
                    "pred_z2": int(pred.z2_collapsed.sum()),
                    "obs_z1": res.groups["z1"].n_collapsed,
                    "obs_z2": res.groups["z2"].n_collapsed,
                    "kl_z2": res.groups["z2"].kl_per_dim.tolist(),
                }
            )
            r = hvae_rows[-1]
            print_table(
                ["net", "σ₁²", "σ₁² used", "theory z1", "theory z2", "obs z1", "obs z2"],
                [[name, s1, learned, r["pred_z1"], r["pred_z2"], r["obs_z1"], r["obs_z2"]]],
            )

    print("\nA/B. CVAE: collapsed latent dimensions (of 12) against input–output correlation")
    print_table(
        ["rho", "max canonical r", "theory (linear)", "linear CVAE", "MLP CVAE"],
        [
            [r["rho"], r["canonical_corr_max"], r["predicted"], r["linear"], r["mlp"]]
            for r in cvae_rows
        ],
    )
    print("\nC/D. MHVAE: collapsed dimensions per level (of 4) against σ₁²")
    print_table(
        ["net", "σ₁²", "σ₁² used", "theory z1", "theory z2", "obs z1", "obs z2"],
        [
            [
                r["network"],
                r["sigma1_sq"],
                r["sigma1_sq_used"],
                r["pred_z1"],
                r["pred_z2"],
                r["obs_z1"],
                r["obs_z2"],
            ]
            for r in hvae_rows
        ],
    )
    linear_cvae_match = sum(r["linear"] == r["predicted"] for r in cvae_rows)
    linear_hvae = [r for r in hvae_rows if r["network"] == "linear"]
    hvae_match = sum(
        r["obs_z2"] == r["pred_z2"] and r["obs_z1"] == r["pred_z1"] for r in linear_hvae
    )
    mlp_counts = [r["mlp"] for r in cvae_rows]
    print(
        f"\nlinear CVAE matches theory in {linear_cvae_match}/{len(cvae_rows)} settings; "
        f"linear MHVAE in {hvae_match}/{len(linear_hvae)}; MLP CVAE counts "
        f"{'never decrease' if mlp_counts == sorted(mlp_counts) else 'are not monotone'} "
        "with ρ"
    )
    write_result(
        "collapse",
        args,
        {
            "eta": ETA,
            "n": n,
            "epochs": epochs,
            "cvae": cvae_rows,
            "hvae": hvae_rows,
            "linear_cvae_matches": linear_cvae_match,
            "cvae_settings": len(cvae_rows),
            "linear_hvae_matches": hvae_match,
            "hvae_settings": len(linear_hvae),
            "mlp_cvae_monotone": mlp_counts == sorted(mlp_counts),
        },
    )


if __name__ == "__main__":
    main()
