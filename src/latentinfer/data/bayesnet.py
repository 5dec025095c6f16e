"""Small Bayes nets of binary variables and the "why think step by step" training data.

After Prystawski, Li & Goodman (NeurIPS 2023): a net of ``n_nodes`` binary variables (a
chain, or a random DAG whose parents are among the few previous nodes); a root is 1 with
probability ``p ~ U(0, 1)``; every other node's conditional probability for each parent
configuration is ``Beta(0.2, 0.2)`` (near-deterministic). Exact joint probabilities come
from enumerating all ``2^n_nodes`` states (``n_nodes ≤ 20``), so every conditional
``p(target = 1 | condition = value)`` is known exactly.

Training samples (:func:`observation_sets`) show a set of variables with the target last:

- ``"local"``: a random centre node and every node within graph distance ``k`` of it
  (``k ~ Geometric(0.5)``, k ≥ 1, on the undirected graph), each kept with probability 0.8
  (at least two kept), in random order with a random one of them as the target; a set that
  would hold both variables of a held-out pair is drawn again.
- ``"full"``: every variable, in random order; for each held-out pair one of its two
  variables (chosen at random) is left out, so held-out pairs never co-occur in training
  under either format (our reading: the paper leaves this case open).

Example:
    >>> net = random_bayes_net(6, seed=0)
    >>> net.n_nodes, net.parents[1]
    (6, (0,))
    >>> 0.0 <= net.conditional(5, 0, 1) <= 1.0
    True
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from functools import cached_property

import torch

from latentinfer.core.errors import ConfigError, ValidationError
from latentinfer.core.validation import check_choice, check_number
from latentinfer.data.registry import Dataset, check_seed, register

__all__ = [
    "FORMATS",
    "STRUCTURES",
    "BayesNet",
    "load_bayesnet",
    "observation_sets",
    "random_bayes_net",
]

STRUCTURES = ("chain", "dag")
FORMATS = ("local", "full")
_MAX_EXACT = 20


@dataclass(frozen=True, eq=False)
class BayesNet:
    """A Bayes net of binary variables, in topological order.

    Attributes:
        parents: ``parents[i]`` the indices (all ``< i``) of node ``i``'s parents.
        cpt: ``cpt[i]`` float64 tensor of shape ``(2 ** len(parents[i]),)``:
            ``p(x_i = 1 | parents)``; the parent configuration's index is
            ``Σ_j x_{parents[i][j]} · 2^j``.
    """

    parents: tuple[tuple[int, ...], ...]
    cpt: tuple[torch.Tensor, ...]

    @property
    def n_nodes(self) -> int:
        """The number of variables."""
        return len(self.parents)

    def _check_node(self, node: int, name: str) -> int:
        if isinstance(node, bool) or not isinstance(node, int) or not 0 <= node < self.n_nodes:
            raise ValidationError(
                f"{name} must be a node index in 0 .. {self.n_nodes - 1}; got {node!r}."
            )
        return node

    def _p_one(self, i: int, states: torch.Tensor) -> torch.Tensor:
        idx = torch.zeros(states.shape[0], dtype=torch.long)
        for j, par in enumerate(self.parents[i]):
            idx += states[:, par].long() << j
        return self.cpt[i][idx]

    @cached_property
    def joint(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All states ``(2^n, n)`` (bool) and their probabilities ``(2^n,)`` (float64)."""
        n = self.n_nodes
        if n > _MAX_EXACT:
            raise ValidationError(
                f"exact enumeration needs n_nodes ≤ {_MAX_EXACT}; this net has {n}."
            )
        codes = torch.arange(2**n)
        states = ((codes[:, None] >> torch.arange(n)) & 1).bool()
        prob = torch.ones(2**n, dtype=torch.float64)
        for i in range(n):
            p1 = self._p_one(i, states)
            prob *= torch.where(states[:, i], p1, 1 - p1)
        return states, prob

    def conditional(self, target: int, condition: int, value: int) -> float:
        """Exact ``p(x_target = 1 | x_condition = value)``."""
        self._check_node(target, "target")
        self._check_node(condition, "condition")
        if value not in (0, 1):
            raise ValidationError(f"value must be 0 or 1; got {value!r}.")
        states, prob = self.joint
        given = states[:, condition] == bool(value)
        denom = prob[given].sum()
        return float(prob[given & states[:, target]].sum() / denom)

    def marginal(self, node: int) -> float:
        """Exact ``p(x_node = 1)``."""
        states, prob = self.joint
        return float(prob[states[:, self._check_node(node, "node")]].sum())

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` joint samples by ancestral sampling, int64 ``(n, n_nodes)`` of 0/1."""
        check_number(n, name="n", low=1, integer=True)
        x = torch.zeros((n, self.n_nodes), dtype=torch.long)
        for i in range(self.n_nodes):
            p1 = self._p_one(i, x)
            x[:, i] = (torch.rand(n, generator=generator, dtype=torch.float64) < p1).long()
        return x

    @cached_property
    def distances(self) -> torch.Tensor:
        """``(n, n)`` int64 shortest-path lengths on the undirected graph (−1: unreachable)."""
        n = self.n_nodes
        adj: list[set[int]] = [set() for _ in range(n)]
        for i, ps in enumerate(self.parents):
            for p in ps:
                adj[i].add(p)
                adj[p].add(i)
        dist = torch.full((n, n), -1, dtype=torch.long)
        for s in range(n):
            dist[s, s] = 0
            frontier, d = [s], 0
            while frontier:
                d += 1
                nxt = []
                for u in frontier:
                    for v in adj[u]:
                        if dist[s, v] < 0:
                            dist[s, v] = d
                            nxt.append(v)
                frontier = nxt
        return dist


def random_bayes_net(
    n_nodes: int = 12,
    *,
    structure: str = "chain",
    max_parents: int = 2,
    window: int = 3,
    seed: int = 0,
) -> BayesNet:
    """Draw a net: roots ``p ~ U(0, 1)``, other conditionals ``Beta(0.2, 0.2)``.

    Args:
        n_nodes: variables (2 ≤ n_nodes ≤ 26; exact conditionals need ≤ 20).
        structure: ``"chain"`` (node i's parent is i − 1) or ``"dag"`` (node i > 0 has 1 to
            ``max_parents`` parents among the ``window`` previous nodes; always i − 1, so
            the net is connected).
        max_parents: the most parents of a node (``"dag"``).
        window: how far back parents are drawn from (``"dag"``).
        seed: seeds the structure and the probabilities.
    """
    check_number(n_nodes, name="n_nodes", low=2, high=26, integer=True)
    check_choice(structure, name="structure", choices=STRUCTURES)
    check_number(max_parents, name="max_parents", low=1, integer=True)
    check_number(window, name="window", low=1, integer=True)
    check_seed(seed)
    rng = random.Random(seed)
    g = torch.Generator().manual_seed(seed)
    parents: list[tuple[int, ...]] = [()]
    for i in range(1, n_nodes):
        if structure == "chain":
            parents.append((i - 1,))
            continue
        pool = list(range(max(0, i - window), i - 1))
        extra = rng.sample(pool, min(len(pool), rng.randrange(max_parents)))
        parents.append(tuple(sorted({i - 1, *extra})))
    cpt = []
    for ps in parents:
        if not ps:
            cpt.append(torch.rand(1, generator=g, dtype=torch.float64))
        else:
            # Beta(a, b) from two Gamma draws of the explicit generator
            k = 2 ** len(ps)
            a = torch._standard_gamma(torch.full((k,), 0.2, dtype=torch.float64), generator=g)
            b = torch._standard_gamma(torch.full((k,), 0.2, dtype=torch.float64), generator=g)
            cpt.append((a / (a + b)).clamp(1e-6, 1 - 1e-6))
    return BayesNet(parents=tuple(parents), cpt=tuple(cpt))


def _geometric(rng: random.Random, p: float) -> int:
    k = 1
    while rng.random() > p:
        k += 1
    return k


def observation_sets(
    net: BayesNet,
    n: int,
    *,
    format: str = "local",
    held_out: tuple[tuple[int, int], ...] = (),
    keep: float = 0.8,
    geometric_p: float = 0.5,
    seed: int = 0,
) -> list[list[int]]:
    """``n`` lists of node indices to observe, the target last (see the module docstring).

    Args:
        net: the net.
        n: how many sets.
        format: ``"local"`` or ``"full"``.
        held_out: node pairs that must never be observed together.
        keep: the probability of keeping each node of a local neighbourhood.
        geometric_p: the success probability of the neighbourhood radius.
        seed: seeds the draw.
    """
    check_number(n, name="n", low=1, integer=True)
    check_choice(format, name="format", choices=FORMATS)
    check_number(keep, name="keep", low=0, high=1, low_inclusive=False)
    check_number(geometric_p, name="geometric_p", low=0, high=1, low_inclusive=False)
    rng = random.Random(seed)
    pairs = {frozenset(p) for p in held_out}
    dist = net.distances
    out: list[list[int]] = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 1000 * n:
            raise ConfigError("could not draw observation sets that avoid the held-out pairs.")
        if format == "full":
            nodes = list(range(net.n_nodes))
            for p in held_out:
                drop = rng.choice(p)
                if drop in nodes and all(q in nodes for q in p):
                    nodes.remove(drop)
        else:
            centre = rng.randrange(net.n_nodes)
            k = _geometric(rng, geometric_p)
            near = [int(v) for v in torch.nonzero((dist[centre] >= 0) & (dist[centre] <= k))]
            nodes = [v for v in near if rng.random() < keep]
            if len(nodes) < 2 or any(
                frozenset(c) in pairs for c in itertools.combinations(nodes, 2)
            ):
                continue
        rng.shuffle(nodes)
        out.append(nodes)
    return out


@register("bayesnet")
def load_bayesnet(
    n: int = 1000,
    *,
    n_nodes: int = 12,
    structure: str = "chain",
    seed: int = 0,
) -> Dataset:
    """Joint samples of a random Bayes net of binary variables (exact conditionals known).

    Returns:
        A :class:`Dataset` with ``X`` float32 ``(n, n_nodes)`` of 0/1 and ``info["net"]``,
        the :class:`BayesNet` (its ``conditional`` gives the exact answers).
    """
    net = random_bayes_net(n_nodes, structure=structure, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    x = net.sample(n, generator=g)
    return Dataset(X=x.float(), name="bayesnet", info={"net": net, "likelihood": "bernoulli"})
