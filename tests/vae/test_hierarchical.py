"""HierarchicalVAE: the two-level distributions and the per-level loss parts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentinfer.vae import HierarchicalVAE


def test_two_level_distributions_are_consistent() -> None:
    hvae = HierarchicalVAE(
        latent_dim=3, top_latent_dim=2, hidden=(8,), top_hidden=(8,), seed=0
    ).build((5,))
    x = torch.randn(4, 5)
    q = hvae.encode(x)
    z = q.rsample((6,))
    assert z.shape == (6, 4, 5)
    # log q([z1, z2]) = log q(z1|x) + log q(z2|z1)
    mu, lv = hvae.encode_params(x)
    q1 = torch.distributions.Normal(mu, (0.5 * lv).exp()).log_prob(z[..., :3]).sum(-1)
    m2, lv2 = hvae._q_z2(z[..., :3])
    q2 = torch.distributions.Normal(m2, (0.5 * lv2).exp()).log_prob(z[..., 3:]).sum(-1)
    torch.testing.assert_close(q.log_prob(z), q1 + q2)
    p = hvae.prior()
    zp = p.sample((7,))
    assert zp.shape == (7, 5)
    pm, plv = hvae._p_z1(zp[..., 3:])
    expected = torch.distributions.Normal(0, 1).log_prob(zp[..., 3:]).sum(
        -1
    ) + torch.distributions.Normal(pm, (0.5 * plv).exp()).log_prob(zp[..., :3]).sum(-1)
    torch.testing.assert_close(p.log_prob(zp), expected)
    assert hvae.latent_groups == {"z1": slice(0, 3), "z2": slice(3, 5)}


def test_loss_parts_and_per_level_kl() -> None:
    hvae = HierarchicalVAE(latent_dim=3, top_latent_dim=2, hidden=(8,), seed=0, top_beta=2.0).build(
        (5,)
    )
    out = hvae.loss(torch.randn(16, 5))
    assert set(out.parts) == {"reconstruction", "kl_z1", "kl_z2"}
    assert out.stats["kl_per_dim"].shape == (5,)
    torch.testing.assert_close(out.parts["kl_z2"], 2.0 * out.stats["kl_per_dim"][3:].sum())


def test_fit_and_fixed_first_level_variance() -> None:
    x = np.random.default_rng(0).normal(size=(200, 5))
    hvae = HierarchicalVAE(
        latent_dim=3, top_latent_dim=2, hidden=(16,), posterior_variance=0.01, z1_scale=0.5, seed=0
    )
    hvae.fit(x, max_epochs=2, progress=False)
    assert hvae.transform(x[:4]).shape == (4, 5)
    _, lv = hvae.encode_params(torch.as_tensor(x[:4], dtype=torch.float32))
    torch.testing.assert_close(lv.exp(), torch.full((4, 3), 0.01))
    assert np.isfinite(hvae.score(x[:10], k=4))


def test_bad_hierarchical_options() -> None:
    from latentinfer import ConfigError

    with pytest.raises(ConfigError, match="top_latent_dim"):
        HierarchicalVAE(top_latent_dim=0)
