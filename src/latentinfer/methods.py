"""The method index: one row per method, with its paper, code, test and benchmark.

``latentinfer list`` prints it, the contract tests run over its rows, the docs link to it,
and a test keeps it complete (every row's object imports, its test file and benchmark
script exist). A reader looking for a method greps this file first.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

from latentinfer.core.errors import ValidationError

__all__ = ["FAMILIES", "METHODS", "Method", "by_family", "get", "load_object"]

FAMILIES = ("vae", "causal", "reasoning", "bayes")

Kind = Literal["model", "diagnostic", "estimator", "filter", "trainer"]
Maturity = Literal["stable", "experimental"]


@dataclass(frozen=True)
class Method:
    """One row of the index.

    Attributes:
        name: short name used on the command line (``latentinfer fit NAME``).
        family: one of :data:`FAMILIES`.
        kind: ``"model"`` (a latent-variable model; the contract tests cover it),
            ``"diagnostic"``, ``"estimator"``, ``"filter"`` or ``"trainer"``.
        paper: the paper's title.
        year: its year.
        arxiv: its arXiv id (``""`` when it has none).
        object_path: dotted path of the class or function that implements it.
        inference: how it infers the hidden variables.
        diagnostics: the diagnostics that apply (names of ``latentinfer.diagnostics``
            functions).
        test: the test file, relative to the repository root.
        benchmark: the benchmark script that reproduces its claim (``""``: none yet).
        maturity: ``"stable"`` when its benchmark reproduces the paper's claim.
    """

    name: str
    family: str
    kind: Kind
    paper: str
    year: int
    arxiv: str
    object_path: str
    inference: str
    diagnostics: tuple[str, ...]
    test: str
    benchmark: str
    maturity: Maturity


_VAE_DIAGNOSTICS = (
    "run_activity",
    "run_collapse",
    "run_mean_vs_sampled",
    "run_relevance",
    "run_traversal",
    "mig",
    "dci",
)

#: the diagnostics that apply to the causal latent models (rows [x, t, y], no images)
_CAUSAL_LATENT_DIAGNOSTICS = ("run_activity", "run_collapse", "run_mean_vs_sampled")

METHODS: tuple[Method, ...] = (
    Method(
        name="vae",
        family="vae",
        kind="model",
        paper="Auto-Encoding Variational Bayes",
        year=2014,
        arxiv="1312.6114",
        object_path="latentinfer.vae.VAE",
        inference="amortized VI (ELBO, analytic or sampled KL, β weight); IWAE for held-out NLL",
        diagnostics=_VAE_DIAGNOSTICS,
        test="tests/vae/test_vae.py",
        benchmark="benchmarks/vae/speed_vs_pythae.py",
        maturity="stable",
    ),
    Method(
        name="ardvae",
        family="vae",
        kind="model",
        paper="ARD-VAE: A Statistical Formulation to Find the Relevant Latent Dimensions of "
        "Variational Autoencoders",
        year=2025,
        arxiv="2501.10901",
        object_path="latentinfer.vae.ARDVAE",
        inference="amortized VI with a hierarchical prior whose variances are estimated from "
        "the encoded data",
        diagnostics=_VAE_DIAGNOSTICS,
        test="tests/vae/test_ard.py",
        benchmark="benchmarks/vae/ard_relevance.py",
        maturity="stable",
    ),
    Method(
        name="cvae",
        family="vae",
        kind="model",
        paper="Beyond Vanilla Variational Autoencoders: Detecting Posterior Collapse in "
        "Conditional and Hierarchical Variational Autoencoders",
        year=2024,
        arxiv="2306.05023",
        object_path="latentinfer.vae.ConditionalVAE",
        inference="amortized VI conditioned on an input",
        diagnostics=("run_activity", "run_collapse", "run_mean_vs_sampled", "run_relevance"),
        test="tests/vae/test_conditional.py",
        benchmark="benchmarks/vae/collapse.py",
        maturity="stable",
    ),
    Method(
        name="hvae",
        family="vae",
        kind="model",
        paper="Beyond Vanilla Variational Autoencoders: Detecting Posterior Collapse in "
        "Conditional and Hierarchical Variational Autoencoders",
        year=2024,
        arxiv="2306.05023",
        object_path="latentinfer.vae.HierarchicalVAE",
        inference="amortized VI over a Markov chain of two latent levels",
        diagnostics=("run_activity", "run_collapse", "run_relevance", "run_traversal"),
        test="tests/vae/test_hierarchical.py",
        benchmark="benchmarks/vae/collapse.py",
        maturity="stable",
    ),
    Method(
        name="collapse",
        family="vae",
        kind="diagnostic",
        paper="Beyond Vanilla Variational Autoencoders: Detecting Posterior Collapse in "
        "Conditional and Hierarchical Variational Autoencoders",
        year=2024,
        arxiv="2306.05023",
        object_path="latentinfer.diagnostics.run_collapse",
        inference="per-level KL per dimension; linear-theory prediction",
        diagnostics=("run_collapse", "check_collapse", "predict_linear_collapse"),
        test="tests/diagnostics/test_collapse.py",
        benchmark="benchmarks/vae/collapse.py",
        maturity="stable",
    ),
    Method(
        name="mean_vs_sampled",
        family="vae",
        kind="diagnostic",
        paper="Be More Active! Understanding the Differences between Mean and Sampled "
        "Representations of Variational Autoencoders",
        year=2023,
        arxiv="2109.12679",
        object_path="latentinfer.diagnostics.run_mean_vs_sampled",
        inference="active / passive / mixed variables from the variance representation",
        diagnostics=("run_mean_vs_sampled", "check_mean_vs_sampled"),
        test="tests/diagnostics/test_representation.py",
        benchmark="benchmarks/vae/mean_vs_sampled.py",
        maturity="stable",
    ),
    Method(
        name="hgf",
        family="bayes",
        kind="filter",
        paper="pyhgf: A neural network library for predictive coding",
        year=2024,
        arxiv="2410.09206",
        object_path="latentinfer.bayes.HGF",
        inference="hierarchical Gaussian filter (standard and eHGF updates) on a native "
        "kernel generated per network; MLE/MAP fits with exact forward-mode gradients and "
        "Laplace standard errors",
        diagnostics=(),
        test="tests/bayes/test_hgf_exactness.py",
        # reproduces pyhgf 0.2.12's numbers (float64: ~1e-13); speed: benchmarks/bayes/hgf_speed.py
        benchmark="benchmarks/bayes/hgf_exactness.py",
        maturity="stable",
    ),
    Method(
        name="mopps",
        family="bayes",
        kind="filter",
        paper="Can Prompt Difficulty be Online Predicted for Accelerating RL Finetuning of "
        "Reasoning Models?",
        year=2025,
        arxiv="2507.04632",
        object_path="latentinfer.bayes.BetaBernoulliFilter",
        inference="streaming Beta-Bernoulli updates with exponential forgetting toward the "
        "prior; Thompson-sampled selection of arms near a target success rate",
        diagnostics=(),
        test="tests/bayes/test_beta_bernoulli.py",
        benchmark="benchmarks/bayes/mopps_filter.py",
        # the bandit benchmark cuts all-agree groups by ×0.51, just short of the ×0.5 bar
        maturity="experimental",
    ),
    Method(
        name="niw_meta",
        family="bayes",
        kind="model",
        paper="A Hierarchical Bayesian Model for Deep Few-Shot Meta Learning",
        year=2024,
        arxiv="2306.09702",
        object_path="latentinfer.bayes.NIWMeta",
        inference="diagonal NIW prior over a few-shot head; per episode a quadratic fit from a "
        "few SGD/SGLD steps and a closed-form local posterior; global parameters and extractor "
        "by the ELBO, no graph through the inner steps",
        diagnostics=(),
        test="tests/bayes/test_niw.py",
        benchmark="benchmarks/bayes/niw_fewshot.py",
        # ties the prototypical network on glyphs; does not reproduce the paper's gain
        maturity="experimental",
    ),
    Method(
        name="protonet_head",
        family="bayes",
        kind="estimator",
        paper="Prototypical Networks for Few-shot Learning",
        year=2017,
        arxiv="1703.05175",
        object_path="latentinfer.bayes.PrototypicalHead",
        inference="nearest class mean in a meta-learned feature space (squared Euclidean)",
        diagnostics=(),
        test="tests/bayes/test_niw.py",
        benchmark="benchmarks/bayes/niw_fewshot.py",
        maturity="stable",
    ),
    Method(
        name="conjugate_niw_head",
        family="bayes",
        kind="estimator",
        paper="Conjugate Bayesian analysis of the Gaussian distribution",
        year=2007,
        arxiv="",
        object_path="latentinfer.bayes.ConjugateGaussianHead",
        inference="exact NIW posterior per class in feature space, multivariate Student-t "
        "predictive; prior by empirical Bayes on the meta-training classes",
        diagnostics=(),
        test="tests/bayes/test_niw.py",
        benchmark="benchmarks/bayes/niw_fewshot.py",
        maturity="stable",
    ),
    Method(
        name="ivl",
        family="causal",
        kind="estimator",
        paper="An Analysis of Causal Effect Estimation using Outcome Invariant Data Augmentation",
        year=2025,
        arxiv="2510.25128",
        object_path="latentinfer.causal.IVL",
        inference="IV-like regression: augmentation parameters as instrument, closed-form "
        "minimiser of ‖P_G r‖² + α‖r‖² (thin QR), α by cross-validated held-out IV risk",
        diagnostics=(),
        test="tests/causal/test_iv.py",
        benchmark="benchmarks/causal/ivl_simulation.py",
        # reproduces the linear simulation's ordering and recomputed anchors
        maturity="stable",
    ),
    Method(
        name="da_erm",
        family="causal",
        kind="estimator",
        paper="An Analysis of Causal Effect Estimation using Outcome Invariant Data Augmentation",
        year=2025,
        arxiv="2510.25128",
        object_path="latentinfer.causal.DAERM",
        inference="least squares on outcome-invariantly augmented treatments",
        diagnostics=(),
        test="tests/causal/test_iv.py",
        benchmark="benchmarks/causal/ivl_simulation.py",
        maturity="stable",
    ),
    Method(
        name="cevae",
        family="causal",
        kind="model",
        paper="Causal Effect Inference with Deep Latent-Variable Models",
        year=2017,
        arxiv="1705.08821",
        object_path="latentinfer.causal.CEVAE",
        inference="amortised variational inference of a latent confounder from (x, t, y), "
        "with auxiliary q(t | x), q(y | t, x) for new rows",
        diagnostics=_CAUSAL_LATENT_DIAGNOSTICS,
        test="tests/causal/test_latent_confounders.py",
        benchmark="benchmarks/causal/vluci_synthetic.py",
        # the baseline VLUCI improves on; fragile across seeds, as the notes say
        maturity="stable",
    ),
    Method(
        name="vluci",
        family="causal",
        kind="model",
        paper="VLUCI: Variational Learning of Unobserved Confounders for Counterfactual Inference",
        year=2023,
        arxiv="2308.00904",
        object_path="latentinfer.causal.VLUCI",
        inference="doubly variational: q(U | R, M, T, Y) by an importance-weighted bound on "
        "p(M, T, Y | R), q(U | R, M) by KL to it; plug-in base fits on posterior draws of U",
        diagnostics=_CAUSAL_LATENT_DIAGNOSTICS,
        test="tests/causal/test_latent_confounders.py",
        benchmark="benchmarks/causal/vluci_synthetic.py",
        # beats its base and CEVAE at confounding 1 and 2; at 0.5 the bias is below the noise
        maturity="stable",
    ),
    Method(
        name="neural_ivl",
        family="causal",
        kind="estimator",
        paper="An Analysis of Causal Effect Estimation using Outcome Invariant Data Augmentation",
        year=2025,
        arxiv="2510.25128",
        object_path="latentinfer.causal.NeuralIVL",
        inference="MLP trained by Adam on the IVL risk with the projection per mini-batch",
        diagnostics=(),
        test="tests/causal/test_iv.py",
        benchmark="benchmarks/causal/ivl_simulation.py",
        # nonlinear setting: α = 1 slightly ahead of DA+ERM, within noise; α = 0.1 behind
        maturity="experimental",
    ),
    Method(
        name="sft",
        family="reasoning",
        kind="trainer",
        paper="Show Your Work: Scratchpads for Intermediate Computation with Language Models",
        year=2021,
        arxiv="2112.00114",
        object_path="latentinfer.reasoning.sft.SFT",
        inference="supervised fine-tuning on gold rationales (scratchpads) or answers alone, "
        "on the core training loop; greedy or self-consistency evaluation",
        diagnostics=(),
        test="tests/reasoning/test_sft.py",
        benchmark="benchmarks/reasoning/arithmetic_rationale.py",
        # reproduced: scratchpad SFT 1.00 held-out accuracy vs 0.20 direct (majority 0.18)
        maturity="stable",
    ),
    Method(
        name="reasoning_gap",
        family="reasoning",
        kind="estimator",
        paper="Why think step by step? Reasoning emerges from the locality of experience",
        year=2023,
        arxiv="2304.03843",
        object_path="latentinfer.reasoning.reasoning_gap.reasoning_gap",
        inference="direct next-token probability vs free generation of intermediate "
        "variables (averaged over samples) for held-out Bayes-net conditionals, against "
        "exact enumeration",
        diagnostics=(),
        test="tests/reasoning/test_reasoning_gap.py",
        benchmark="benchmarks/reasoning/reasoning_gap.py",
        # at CPU scale free generation beats direct only modestly under local data (no gap
        # under fully observed data, as in the paper): see docs/reproductions.md
        maturity="experimental",
    ),
    Method(
        name="star",
        family="reasoning",
        kind="trainer",
        paper="STaR: Bootstrapping Reasoning With Reasoning",
        year=2022,
        arxiv="2203.14465",
        object_path="latentinfer.reasoning.star.STaR",
        inference="rejection sampling of correct rationales, rationalization of failures with "
        "the answer as a hint; fine-tuning restarted from the base model each round",
        diagnostics=(),
        test="tests/reasoning/test_star.py",
        benchmark="benchmarks/reasoning/trice_vs_star.py",
        # without rationalization it improves on its base (0.363 → 0.665); with it, the
        # tiny base's malformed hinted samples hold it back (0.435)
        maturity="experimental",
    ),
    Method(
        name="trice",
        family="reasoning",
        kind="trainer",
        paper="Training Chain-of-Thought via Latent-Variable Inference",
        year=2023,
        arxiv="2312.02179",
        object_path="latentinfer.reasoning.trice.TRICE",
        inference="MCMC-EM: a persistent memory of one rationale per example, independence "
        "Metropolis-Hastings proposals from the model, leave-one-out control-variate "
        "gradient (latentinfer.inference.mcmc_em), optional systematic subsampling",
        diagnostics=(),
        test="tests/reasoning/test_trice.py",
        benchmark="benchmarks/reasoning/trice_vs_star.py",
        # beats STaR with rationalization in 10 of 10 seeds, not STaR without; the CV does not
        # lower the gradient variance at this scale (one correct scratchpad per question)
        maturity="experimental",
    ),
    Method(
        name="grpo",
        family="reasoning",
        kind="trainer",
        paper="DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open Language Models",
        year=2024,
        arxiv="2402.03300",
        object_path="latentinfer.reasoning.grpo.GRPO",
        inference="on-policy group-relative policy gradient: k rationales per question, "
        "rewards from the task's checker, the group's mean (and sd) as baseline; the RL "
        "trainer MoPPS selects prompts for",
        diagnostics=(),
        test="tests/reasoning/test_grpo.py",
        benchmark="benchmarks/reasoning/mopps_grpo.py",
        maturity="experimental",
    ),
    Method(
        name="mopps_selection",
        family="reasoning",
        kind="filter",
        paper="Can Prompt Difficulty be Online Predicted for Accelerating RL Finetuning of "
        "Reasoning Models?",
        year=2025,
        arxiv="2507.04632",
        object_path="latentinfer.reasoning.prompt_selection.MoPPSSelector",
        inference="the bayes family's BetaBernoulliFilter (row mopps) choosing each step's "
        "training prompts for STaR and TRICE; counts the rollouts",
        diagnostics=(),
        test="tests/reasoning/test_prompt_selection.py",
        benchmark="benchmarks/reasoning/mopps_rollouts.py",
        # no fewer rollouts than uniform in TRICE; in GRPO 17% fewer on average over 10
        # seeds, within noise (see docs/reproductions.md)
        maturity="experimental",
    ),
)


def get(name: str) -> Method:
    """The row named ``name`` (raises :class:`ValidationError` listing the names)."""
    for m in METHODS:
        if m.name == name:
            return m
    raise ValidationError(
        f"unknown method {name!r}; accepted: {', '.join(m.name for m in METHODS)}."
    )


def by_family(family: str) -> tuple[Method, ...]:
    """Rows of one family."""
    if family not in FAMILIES:
        raise ValidationError(f"unknown family {family!r}; accepted: {', '.join(FAMILIES)}.")
    return tuple(m for m in METHODS if m.family == family)


def load_object(method: Method | str) -> Any:
    """Import and return the class or function a row points to."""
    row = get(method) if isinstance(method, str) else method
    module, _, attr = row.object_path.rpartition(".")
    return getattr(importlib.import_module(module), attr)
