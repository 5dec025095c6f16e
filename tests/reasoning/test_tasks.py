"""Tasks: formats, disjoint splits, answer checking, exact Bayes-net conditionals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from latentinfer.core.errors import ConfigError, ValidationError
from latentinfer.data.arithmetic import evaluate_mod10
from latentinfer.data.bayesnet import observation_sets, random_bayes_net
from latentinfer.reasoning.tasks import Example, get_task, normalize_answer


def test_arithmetic_examples_are_correct_and_splits_disjoint() -> None:
    task = get_task("arithmetic")
    train = task.examples("train", 300, seed=0)
    test = task.examples("test", 100, seed=0)
    assert not {e.question for e in train} & {e.question for e in test}
    assert train == task.examples("train", 300, seed=0)
    for e in train[:50]:
        value, _ = evaluate_mod10(e.question)
        assert e.answer == str(value) and e.rationale is not None
        assert e.rationale.split(";")[-1].endswith(f"={value}")
        target = task.target(e)
        assert task.is_correct(target, e.answer)
        assert task.target(e, with_rationale=False) == f"#{e.answer}"
    add = get_task("arithmetic", kind="addition", n_digits=3)
    for e in add.examples("train", 20, seed=1):
        a, b = (int(x) for x in e.question.split("+"))
        assert int(e.answer) == a + b


def test_answer_extraction_and_prompts() -> None:
    task = get_task("arithmetic")
    assert task.extract_answer("+1=2;*3=6 #6") == "6"
    assert task.extract_answer("no marker") is None
    assert task.is_correct("blah #### 1,000.0", "1000")
    assert not task.is_correct("#7", "6")
    assert task.prompt("1+2") == "1+2\n"
    assert task.prompt("1+2", hint="3") == "1+2 [answer: 3]\n"
    assert normalize_answer(" 42. ") == "42"
    with pytest.raises(ValidationError, match="no rationale"):
        task.target(Example("1+1", "2"))


def test_bayes_net_conditionals_are_exact() -> None:
    net = random_bayes_net(8, structure="dag", seed=3)
    x = net.sample(200_000, generator=torch.Generator().manual_seed(0))
    # Monte Carlo check of one conditional; tolerance ~5 standard errors
    a, b = 0, 5
    given = x[:, a] == 1
    mc = float(x[given, b].float().mean())
    se = (0.25 / int(given.sum())) ** 0.5
    assert abs(mc - net.conditional(b, a, 1)) < 5 * se + 1e-3
    # a chain: p(x2 | x0) sums over x1 exactly
    chain = random_bayes_net(3, seed=1)
    p1 = chain.cpt[1][1].item()  # p(x1=1 | x0=1)
    want = p1 * chain.cpt[2][1].item() + (1 - p1) * chain.cpt[2][0].item()
    assert chain.conditional(2, 0, 1) == pytest.approx(want, abs=1e-12)


def test_bayesnet_task_holds_pairs_out() -> None:
    task = get_task("bayesnet", n_nodes=12, n_held_out=4, net_seed=0)
    pairs = {frozenset(p) for p in task.held_out}
    for fmt in ("local", "full"):
        sets = observation_sets(task.net, 500, format=fmt, held_out=task.held_out, seed=0)
        for nodes in sets:
            assert not any(p <= set(nodes) for p in pairs)
    train = task.examples("train", 50)
    for e in train:
        text = task.prompt(e.question) + task.target(e)
        assert text.startswith(e.answer[0] + ">") and task.is_correct(task.target(e), e.answer)
    assert len(task.queries()) == 16
    assert all(0 <= q.true_p <= 1 for q in task.queries())
    assert task.examples("test", 3)[0].question.count(">") == 1
    full = get_task("bayesnet", format="full", n_nodes=12, n_held_out=4)
    assert len(full.examples("train", 1)[0].rationale.split()) >= 12 - 4 - 2


def test_jsonl_task(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    rows = [
        {"question": "What is 2+2?", "answer": "Two and two. #### 4"},
        {"question": "What is 3+3?", "answer": 6, "rationale": "Three and three."},
        {"question": "Capital of France?", "answer": "Paris"},
        {"question": "5-1?", "answer": "4"},
        {"question": "1+1?", "answer": "2"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    task = get_task("jsonl", train=path)
    assert task.size("train") == 4 and task.size("test") == 1
    ex = sorted(task.examples("train", 4), key=lambda e: e.question)
    assert ex[2] == Example("What is 2+2?", "4", "Two and two.")
    assert ex[3].answer == "6" and ex[3].rationale == "Three and three."
    assert task.target(ex[2]) == "Two and two. #4"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "x"}\n')
    with pytest.raises(ValidationError, match="line 1"):
        get_task("jsonl", train=bad)
    with pytest.raises(ValidationError, match="n=9"):
        task.examples("train", 9)


def test_unknown_task_and_options() -> None:
    with pytest.raises(ValidationError, match=r"unknown task 'arithmetc'.*Did you mean"):
        get_task("arithmetc")
    with pytest.raises(ConfigError, match="no option"):
        get_task("arithmetic", digits=3)
    with pytest.raises(ConfigError, match="kind must be one of"):
        get_task("arithmetic", kind="mul")
    with pytest.raises(ConfigError, match="split must be one of"):
        get_task("arithmetic").examples("val", 3)


def test_bayesnet_held_out_pairs_can_be_made_dependent() -> None:
    task = get_task("bayesnet", structure="dag", n_held_out=4, min_dependence=0.2, net_seed=0)
    net = task.net
    for a, b in task.held_out:
        dep = max(
            abs(net.conditional(b, a, 1) - net.conditional(b, a, 0)),
            abs(net.conditional(a, b, 1) - net.conditional(a, b, 0)),
        )
        assert dep >= 0.2 and 2 <= int(net.distances[a, b]) <= 4
    with pytest.raises(ConfigError, match="min_dependence"):
        get_task("bayesnet", n_held_out=8, min_dependence=0.99, net_seed=0)
