"""TRICE's gradient estimators against exact enumeration on a categorical toy.

M examples, each with its own logits θ_i over K rationales and a set of correct ones;
∇_θi log p(z | x_i) = onehot(z) − softmax(θ_i). With M = 3 and K = 5 the joint law of the
memories and proposals has K^(2M) = 15,625 states, so means and variances are exact sums.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from latentinfer.core.errors import ConfigError, ShapeError, ValidationError
from latentinfer.inference.control_variates import leave_one_out_beta
from latentinfer.inference.mcmc_em import systematic_resample, trice_weights

F64 = torch.float64


def _toy(p: float, *, m: int = 3, k: int = 5, n_correct: int = 3, seed: int = 0):
    """Logits whose correct set {0..n_correct-1} has total probability p for every example."""
    g = torch.Generator().manual_seed(seed)
    logits = 0.5 * torch.randn(m, k, generator=g, dtype=F64)
    correct = torch.zeros(m, k, dtype=torch.bool)
    correct[:, :n_correct] = True
    a = torch.logsumexp(logits[:, :n_correct], -1)
    b = torch.logsumexp(logits[:, n_correct:], -1)
    logits[:, :n_correct] += (b - a + math.log(p / (1 - p)))[:, None]
    return logits, correct


def _estimates(logits, correct, z_mem, z_prop, mem_valid, **kw):
    """Per-state gradient estimates ``(S, M, K)`` for memories/proposals ``(S, M)``."""
    m, k = logits.shape
    pi = logits.softmax(-1)
    c_prop = correct.gather(1, z_prop.T).T
    w = trice_weights(mem_valid.expand_as(c_prop), c_prop, dtype=F64, **kw)
    z_new = torch.where(c_prop, z_prop, z_mem)
    eye = torch.eye(k, dtype=F64)
    g = w.memory[..., None] * (eye[z_new] - pi) + w.proposal[..., None] * (eye[z_prop] - pi)
    return g / m, w


def _enumerate(logits, correct, mem_valid, **kw):
    """Exact mean ``(M, K)``, total variance, and E[β] ``(M,)`` of the estimator."""
    m, k = logits.shape
    pi = logits.softmax(-1)
    post = torch.where(correct, pi, 0.0)
    post = post / post.sum(-1, keepdim=True)
    wrong = torch.nn.functional.one_hot((~correct).to(torch.int64).argmax(-1), k).to(F64)
    mem_law = torch.where(mem_valid[:, None], post, wrong)  # invalid memory: a wrong rationale
    states = torch.cartesian_prod(*[torch.arange(k)] * (2 * m))
    z_mem, z_prop = states[:, :m], states[:, m:]
    prob = mem_law.gather(1, z_mem.T).T.prod(-1) * pi.gather(1, z_prop.T).T.prod(-1)
    g, w = _estimates(logits, correct, z_mem, z_prop, mem_valid, **kw)
    mean = torch.einsum("s,smk->mk", prob, g)
    var = torch.einsum("s,smk->", prob, (g - mean) ** 2)
    return mean, float(var), torch.einsum("s,sm->m", prob, w.beta)


def _exact_gradients(logits, correct):
    """(∇ log p(y|x), ∇ p(y|x)), each ``(M, K)`` and divided by M like the estimators."""
    m = logits.shape[0]
    pi = logits.softmax(-1)
    p_y = torch.where(correct, pi, 0.0).sum(-1, keepdim=True)
    grad_log = (torch.where(correct, pi, 0.0) / p_y - pi) / m
    return grad_log, p_y * grad_log


@pytest.mark.parametrize("control_variate", [False, True])
@pytest.mark.parametrize("p", [0.2, 0.6, 0.9])
def test_means_equal_the_exact_gradient_when_the_memory_is_stationary(control_variate, p):
    # memories drawn from the posterior p(z | x, y), the chain's stationary law
    logits, correct = _toy(p)
    mean, _, _ = _enumerate(
        logits, correct, torch.ones(3, dtype=torch.bool), control_variate=control_variate
    )
    grad_log, _ = _exact_gradients(logits, correct)
    torch.testing.assert_close(mean, grad_log, rtol=0, atol=1e-12)


def test_first_valid_rationale_case():
    # example 0 has no valid memory: its first valid rationale may be this step's proposal
    logits, correct = _toy(0.6)
    mem_valid = torch.tensor([False, True, True])
    grad_log, grad_p = _exact_gradients(logits, correct)
    basic, _, _ = _enumerate(logits, correct, mem_valid, control_variate=False)
    ours, _, _ = _enumerate(logits, correct, mem_valid, control_variate=True)
    paper, _, beta = _enumerate(
        logits, correct, mem_valid, control_variate=True, first_valid="paper"
    )
    # basic and our CV treatment: ∇p(y|x) for the example still burning in, ∇log p for the rest
    expected = torch.cat([grad_p[:1], grad_log[1:]])
    torch.testing.assert_close(basic, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-12)
    # the literal formula shrinks that example by E[1 − β_0] (β_0 does not depend on z̃_0)
    torch.testing.assert_close(paper[0], (1 - beta[0]) * grad_p[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(paper[1:], grad_log[1:], rtol=0, atol=1e-12)
    assert float(beta[0]) > 0.3 and float((paper[0] - ours[0]).abs().max()) > 1e-3


def test_monte_carlo_means_within_standard_errors():
    # 40,000 replicates of the whole step; each of the 2 × 15 coordinates must lie within
    # 4.5 standard errors of the exact gradient (all 30 pass with probability ≈ 0.9998)
    logits, correct = _toy(0.5)
    m = logits.shape[0]
    pi = logits.softmax(-1)
    post = torch.where(correct, pi, 0.0)
    post = post / post.sum(-1, keepdim=True)
    g = torch.Generator().manual_seed(1)
    reps = 40_000
    z_mem = torch.multinomial(post, reps, replacement=True, generator=g).T  # (R, M)
    z_prop = torch.multinomial(pi, reps, replacement=True, generator=g).T
    grad_log, _ = _exact_gradients(logits, correct)
    for cv in (False, True):
        est, _ = _estimates(
            logits, correct, z_mem, z_prop, torch.ones(m, dtype=torch.bool), control_variate=cv
        )
        se = est.std(0) / math.sqrt(reps)
        err = (est.mean(0) - grad_log).abs()
        # coordinates with no Monte Carlo noise (a wrong rationale's score under ĝ) are exact
        z = torch.where(se > 0, err / se.clamp_min(1e-300), err * 1e12)
        assert float(z.max()) < 4.5, (cv, z)


def test_control_variate_lowers_the_variance_more_as_accuracy_grows():
    ps = [0.3, 0.5, 0.7, 0.9, 0.97]
    ratios = []
    for p in ps:
        logits, correct = _toy(p)
        valid = torch.ones(3, dtype=torch.bool)
        _, v_basic, _ = _enumerate(logits, correct, valid, control_variate=False)
        _, v_cv, _ = _enumerate(logits, correct, valid, control_variate=True)
        ratios.append(v_cv / v_basic)
    # with M = 3, β_i is estimated from two other examples: at low accuracy its noise about
    # cancels the gain (ratio ≈ 1.05 at p = 0.3); from p = 0.5 on the variance falls
    assert all(r < 1 for r in ratios[1:]), ratios
    assert all(b < a for a, b in itertools.pairwise(ratios)), ratios
    assert ratios[-1] < 0.2, ratios  # the variance goes to 0 as p(correct) → 1


def test_control_variate_cannot_help_when_the_posterior_is_a_point_mass():
    # one correct rationale: the basic estimator has no Monte Carlo noise to remove, and the
    # control variate only adds the proposals' noise (the estimator's known limit)
    logits, correct = _toy(0.7, n_correct=1)
    valid = torch.ones(3, dtype=torch.bool)
    _, v_basic, _ = _enumerate(logits, correct, valid, control_variate=False)
    _, v_cv, _ = _enumerate(logits, correct, valid, control_variate=True)
    assert v_basic < 1e-20 < v_cv


def test_weights_per_case():
    mem = torch.tensor([1, 1, 0, 0, 1])
    prop = torch.tensor([1, 0, 0, 1, 1])
    w = trice_weights(mem, prop)
    beta = leave_one_out_beta(w.accepted, w.valid).float()
    torch.testing.assert_close(beta, torch.tensor([2 / 3, 3 / 3, 3 / 4, 2 / 3, 2 / 3]))
    torch.testing.assert_close(w.memory, torch.tensor([1 / 3, 1, 0, 1, 1 / 3]))
    torch.testing.assert_close(w.proposal, torch.tensor([0, -1.0, 0, 0, 0]))
    assert w.first_valid.tolist() == [False, False, False, True, False]
    paper = trice_weights(mem, prop, first_valid="paper")
    torch.testing.assert_close(paper.memory[3], torch.tensor(1 / 3))
    basic = trice_weights(mem, prop, control_variate=False)
    assert basic.memory.tolist() == [1, 1, 0, 1, 1] and basic.proposal.abs().sum() == 0
    # batched over leading dims, same numbers per row
    both = trice_weights(torch.stack([mem, mem]), torch.stack([prop, prop]))
    torch.testing.assert_close(both.memory[1], w.memory)


def test_beta_without_other_valid_memories_is_zero():
    beta = leave_one_out_beta(torch.tensor([1.0, 0.0]), torch.tensor([1.0, 0.0]))
    assert beta.tolist() == [0.0, 1.0]


def test_systematic_resampling_is_unbiased():
    # 100,000 resamplings of 7 signed weights to 3; each expected total weight within 4.5 SE
    w = torch.tensor([0.4, -1.3, 0.0, 0.25, 2.0, -0.05, 0.7], dtype=F64)
    reps = 100_000
    r = systematic_resample(w.expand(reps, -1), 3, generator=torch.Generator().manual_seed(2))
    dense = r.dense(7)
    assert r.indices.shape == (reps, 3)
    torch.testing.assert_close(
        r.weights.abs().sum(-1), torch.full((reps,), float(w.abs().sum()), dtype=F64)
    )
    assert not bool((r.indices == 2).any())  # a zero-weight term is never drawn
    se = dense.std(0) / math.sqrt(reps)
    z = (dense.mean(0) - w).abs() / torch.where(se > 0, se, torch.ones_like(se))
    assert float(z.max()) < 4.5, z
    # systematic resampling draws a term of weight ≥ Σ|w|/M' at least once, every time
    assert bool((dense[:, 4] > 0).all())


def test_softmax_resampling_would_be_biased():
    # the contrast the docstring draws: drawing ∝ softmax(|w|) misweights the terms
    w = torch.tensor([0.4, -1.3, 0.0, 0.25, 2.0], dtype=F64)
    q = w.abs().softmax(-1)
    expected = q * torch.sign(w) * w.abs().sum()  # E of one draw's weight per term
    assert float((expected - w).abs().max()) > 0.1


def test_resampling_edge_cases():
    r = systematic_resample(torch.zeros(2, 4), 3, generator=torch.Generator().manual_seed(0))
    assert r.weights.abs().sum() == 0 and r.indices.shape == (2, 3)
    with pytest.raises(ConfigError, match="size"):
        systematic_resample(torch.ones(3), 0)
    with pytest.raises(ShapeError, match="weights"):
        systematic_resample(torch.ones(0), 2)
    with pytest.raises(ValidationError, match="finite"):
        systematic_resample(torch.tensor([1.0, math.nan]), 2)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ConfigError, match=r"first_valid.*'no_cv', 'paper'"):
        trice_weights(torch.ones(2), torch.ones(2), first_valid="drop")
    with pytest.raises(ShapeError, match="same shape"):
        trice_weights(torch.ones(2), torch.ones(3))
    with pytest.raises(ValidationError, match="proposal_correct"):
        trice_weights(torch.ones(2), torch.tensor([0.5, 1.0]))
    with pytest.raises(ConfigError, match="control_variate"):
        trice_weights(torch.ones(2), torch.ones(2), control_variate="yes")  # type: ignore[arg-type]
