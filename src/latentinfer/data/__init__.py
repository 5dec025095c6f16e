"""Offline data sets with known ground truth, for examples, tests and benchmarks.

Nothing here touches the network: the data are bundled with a dependency (scikit-learn's
digits) or generated on the fly from a seed.

=================== ===================================================================
name                what
=================== ===================================================================
``digits``          scikit-learn's 1,797 handwritten 8×8 digits; label = digit class
``glyphs``          procedurally drawn stroke glyphs, hundreds of classes (few-shot)
``sprites``         dSprites-like binary images with 5 known factors
``linear``          x = A z + noise, ``n_relevant`` known relevant dimensions
``nonlinear``       x = W2 tanh(W1 z + b1) + noise, a random 2-layer tanh network
``linear_gaussian`` probabilistic PCA data with exact marginal N(0, W Wᵀ + σ² I)
``confounded``      treatment data with a hidden confounder (and ``confounded_proxies``)
``ihdp``            IHDP covariates with Hill's surface B (a local CSV or EconML's copy)
``bayesnet``        joint samples of a random binary Bayes net (exact conditionals known)
=================== ===================================================================

Example:
    >>> from latentinfer.data import available, load
    >>> "sprites" in available()
    True
    >>> ds = load("sprites", n=200, size=32, seed=0)
    >>> train, test = ds.split(0.25, seed=0)
    >>> len(train), len(test)
    (150, 50)
"""

# Importing the loader modules registers their data sets.
from latentinfer.data.arithmetic import arithmetic_problems
from latentinfer.data.bayesnet import BayesNet, load_bayesnet, random_bayes_net
from latentinfer.data.causal import (
    IHDP_COVARIATES,
    CausalSample,
    ConfounderPosterior,
    causal_sample,
    confounder_posterior,
    load_confounded,
    load_confounded_proxies,
    load_ihdp,
)
from latentinfer.data.digits import load_digits
from latentinfer.data.fewshot import Episode, FewShotTask
from latentinfer.data.glyphs import load_glyphs
from latentinfer.data.registry import Dataset, available, describe, load, options, register
from latentinfer.data.sprites import load_sprites, render_sprites
from latentinfer.data.synthetic import load_linear, load_linear_gaussian, load_nonlinear

__all__ = [
    "IHDP_COVARIATES",
    "BayesNet",
    "CausalSample",
    "ConfounderPosterior",
    "Dataset",
    "Episode",
    "FewShotTask",
    "arithmetic_problems",
    "available",
    "causal_sample",
    "confounder_posterior",
    "describe",
    "load",
    "load_bayesnet",
    "load_confounded",
    "load_confounded_proxies",
    "load_digits",
    "load_glyphs",
    "load_ihdp",
    "load_linear",
    "load_linear_gaussian",
    "load_nonlinear",
    "load_sprites",
    "options",
    "random_bayes_net",
    "register",
    "render_sprites",
]
