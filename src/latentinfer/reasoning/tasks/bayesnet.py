"""The "why think step by step" task: conditional queries on a Bayes net learned from
locally observed samples (Prystawski, Li & Goodman, NeurIPS 2023).

Variables are named by capital letters (``A`` is node 0). A training sample observes a set
of variables (see :func:`latentinfer.data.bayesnet.observation_sets`) and is written
target-first: ``"E>C1 D0 B1 E1"`` says the target is ``E``, then lists the observed
(variable, value) pairs in random order with the target last. As an :class:`Example` the
first pair after ``>`` belongs to the question (``"E>C1"``), the pairs between are the
rationale (``"D0 B1"``) and the last pair is the answer (``"E1"``); the prompt is the
question plus a space.

Test examples are the held-out queries ``p(T | C = v)`` for pairs ``(C, T)`` that never
co-occur in training (both directions, both values), answered by the likelier value;
:meth:`BayesNetTask.queries` gives them with the exact conditional probability, which
:mod:`latentinfer.reasoning.reasoning_gap` compares with the model's two estimates.

Example:
    >>> task = BayesNetTask(n_nodes=8, n_held_out=2, net_seed=0)
    >>> ex = task.examples("train", 1, seed=0)[0]
    >>> task.is_correct(task.target(ex), ex.answer)
    True
    >>> len(task.queries())  # 2 pairs × 2 directions × 2 values
    8
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass

import torch

from latentinfer.core.errors import ConfigError
from latentinfer.core.validation import check_choice, check_number
from latentinfer.data.bayesnet import FORMATS, STRUCTURES, observation_sets, random_bayes_net
from latentinfer.reasoning.tasks.base import Example, Task

__all__ = ["BayesNetTask", "Query"]

_PAIR = re.compile(r"^[A-Z][01]$")


@dataclass(frozen=True)
class Query:
    """A held-out conditional query ``p(target = 1 | condition = value)``.

    Attributes:
        target, condition: node indices.
        value: the observed value of ``condition`` (0 or 1).
        true_p: the exact conditional probability of ``target = 1``.
    """

    target: int
    condition: int
    value: int
    true_p: float


class BayesNetTask(Task):
    """Conditional queries on a random binary Bayes net with exact answers.

    Args:
        n_nodes: variables (2 ≤ n_nodes ≤ 20).
        structure: ``"chain"`` or ``"dag"``.
        format: training samples ``"local"`` (neighbourhoods) or ``"full"`` (all variables).
        n_held_out: variable pairs held out of training (at graph distance within
            ``held_out_distance``).
        held_out_distance: ``(low, high)`` graph distances of the held-out pairs.
        min_dependence: keep only candidate pairs whose conditional moves with the
            condition: ``max(|p(T|C=1) − p(T|C=0)|, |p(C|T=1) − p(C|T=0)|) ≥ min_dependence``.
            With Beta(0.2, 0.2) conditionals many chains are nearly cut (a node that ignores
            its parent), and queries across a cut only test the target's marginal.
        net_seed: seeds the net and the held-out pairs (the same for every split and seed).
    """

    name = "bayesnet"

    def __init__(
        self,
        *,
        n_nodes: int = 12,
        structure: str = "chain",
        format: str = "local",
        n_held_out: int = 8,
        held_out_distance: tuple[int, int] = (2, 4),
        min_dependence: float = 0.0,
        net_seed: int = 0,
    ) -> None:
        check_number(n_nodes, name="n_nodes", low=2, high=20, integer=True)
        self.structure = check_choice(structure, name="structure", choices=STRUCTURES)
        self.format = check_choice(format, name="format", choices=FORMATS)
        check_number(n_held_out, name="n_held_out", low=1, integer=True)
        check_number(min_dependence, name="min_dependence", low=0.0, high=1.0)
        low, high = (int(v) for v in held_out_distance)
        if not 1 <= low <= high:
            raise ConfigError(
                f"held_out_distance must be (low, high) with 1 ≤ low ≤ high; got "
                f"{held_out_distance!r}."
            )
        self.n_nodes, self.n_held_out, self.net_seed = n_nodes, n_held_out, net_seed
        self.held_out_distance = (low, high)
        self.min_dependence = float(min_dependence)
        self.net = random_bayes_net(n_nodes, structure=structure, seed=net_seed)
        dist = self.net.distances
        candidates = [
            (a, b)
            for a in range(n_nodes)
            for b in range(a + 1, n_nodes)
            if low <= int(dist[a, b]) <= high and self._dependence(a, b) >= min_dependence
        ]
        if len(candidates) < n_held_out:
            raise ConfigError(
                f"n_held_out={n_held_out} but only {len(candidates)} pair(s) lie at distance "
                f"{low}..{high} with dependence ≥ {min_dependence}; lower n_held_out or "
                "min_dependence, widen held_out_distance, or change net_seed."
            )
        self.held_out = tuple(sorted(random.Random(net_seed).sample(candidates, n_held_out)))
        self.names = string.ascii_uppercase[:n_nodes]

    def _dependence(self, a: int, b: int) -> float:
        if self.min_dependence == 0:
            return 0.0
        net = self.net
        return max(
            abs(net.conditional(b, a, 1) - net.conditional(b, a, 0)),
            abs(net.conditional(a, b, 1) - net.conditional(a, b, 0)),
        )

    # ------------------------------------------------------------------ data
    def examples(self, split: str, n: int, *, seed: int = 0) -> list[Example]:
        """Training samples (``"train"``) or held-out queries (``"test"``)."""
        self._check_request(split, n, seed)
        if split == "test":
            rng = random.Random(seed)
            queries = self.queries()
            out = []
            for _ in range(n):
                q = rng.choice(queries)
                value = int(q.true_p >= 0.5)
                out.append(
                    Example(
                        question=self.query_question(q),
                        answer=f"{self.names[q.target]}{value}",
                    )
                )
            return out
        sets = observation_sets(self.net, n, format=self.format, held_out=self.held_out, seed=seed)
        values = self.net.sample(n, generator=torch.Generator().manual_seed(seed + 7919))
        out = []
        for nodes, row in zip(sets, values.tolist()):
            pairs = [f"{self.names[v]}{row[v]}" for v in nodes]
            target = self.names[nodes[-1]]
            middle = " ".join(pairs[1:-1])
            out.append(
                Example(question=f"{target}>{pairs[0]}", answer=pairs[-1], rationale=middle or None)
            )
        return out

    def queries(self) -> list[Query]:
        """Every held-out query: both directions of each pair, both condition values."""
        out = []
        for a, b in self.held_out:
            for target, cond in ((b, a), (a, b)):
                for value in (0, 1):
                    p = self.net.conditional(target, cond, value)
                    out.append(Query(target=target, condition=cond, value=value, true_p=p))
        return out

    def query_question(self, query: Query) -> str:
        """The question text of a query: ``"{T}>{C}{value}"``."""
        return f"{self.names[query.target]}>{self.names[query.condition]}{query.value}"

    # ---------------------------------------------------------------- format
    def prompt(self, question: str, *, hint: str | None = None) -> str:
        """``"{question} "``; with a hint, ``"{question} [answer: {hint}] "``."""
        base = super().prompt(question, hint=hint)
        return base[:-1] + " "

    def target(self, example: Example, *, with_rationale: bool = True) -> str:
        """The pairs after the question: ``"D0 B1 E1"``, or ``"E1"`` without rationale."""
        if with_rationale and example.rationale:
            return f"{example.rationale} {example.answer}"
        return example.answer

    def extract_answer(self, completion: str) -> str | None:
        """The last (variable, value) pair of the completion, e.g. ``"E1"``."""
        parts = completion.split()
        return parts[-1] if parts and _PAIR.match(parts[-1]) else None

    def options(self) -> dict[str, object]:
        """The constructor options (what a run folder stores to rebuild the task)."""
        return {
            "n_nodes": self.n_nodes,
            "structure": self.structure,
            "format": self.format,
            "n_held_out": self.n_held_out,
            "held_out_distance": list(self.held_out_distance),
            "min_dependence": self.min_dependence,
            "net_seed": self.net_seed,
        }
