"""TRICE on a tiny model: memory, weights, logging, resume, errors."""

from __future__ import annotations

import pytest
import torch

from latentinfer.core.errors import ConfigError, ValidationError
from latentinfer.core.metrics import read_metrics
from latentinfer.inference.mcmc_em import trice_weights
from latentinfer.reasoning import trice as trice_mod
from latentinfer.reasoning.generation import log_prob
from latentinfer.reasoning.lm import tiny_lm
from latentinfer.reasoning.prompt_selection import UniformSelector
from latentinfer.reasoning.tasks.arithmetic import ArithmeticTask
from latentinfer.reasoning.tokenizer import char_tokenizer
from latentinfer.reasoning.trice import TRICE, TRICEConfig

TASK = ArithmeticTask(n_ops=2)


@pytest.fixture(scope="module")
def tok():
    return char_tokenizer()


def _lm(tok, seed=0):
    return tiny_lm(tok, d_model=32, n_layers=1, n_heads=2, max_len=64, seed=seed)


def _cfg(**kw):
    base = dict(steps=3, batch_size=4, max_new_tokens=14, progress=False, seed=0)
    base.update(kw)
    return TRICEConfig(**base)


def test_a_few_steps_log_what_they_claim(tok, tmp_path):
    train = TASK.examples("train", 8, seed=0)
    held = TASK.examples("test", 4, seed=0)
    res = TRICE(_cfg(variance_every=1, subsample=5)).fit(
        _lm(tok), tok, TASK, train, eval_examples=held, run_dir=tmp_path
    )
    assert res.steps == 3 and res.samples == 8 + 3 * 4 and res.rollouts == 12
    rec = res.metrics[-1]
    for key in (
        "proposal_accuracy",
        "memory_valid",
        "beta",
        "loss",
        "grad_var_cv",
        "grad_var_nocv",
    ):
        assert key in rec
    assert rec["grad_var_nocv"] >= 0 and rec["grad_var_cv"] >= 0
    assert 0 <= res.test_accuracy <= 1
    logged = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in logged[:3]] == [1, 2, 3] and "final_test_accuracy" in logged[-1]
    assert (tmp_path / "model" / "config.json").is_file()
    assert all(
        v == TASK.is_correct(z, ex.answer) for z, v, ex in zip(res.memory, res.valid, train) if z
    )


class _Script:
    """A stand-in for ``sample``: scripted completions, recorded calls."""

    def __init__(self, answers):
        self.answers = answers  # call number -> {prompt: completion}
        self.calls = 0

    def __call__(self, model, tokenizer, prompts, **kw):
        table = self.answers[self.calls]
        self.calls += 1
        return [[table.get(p, "#x")] for p in prompts]


def test_memory_moves_only_on_correct_proposals_and_weights_match(tok, monkeypatch):
    train = TASK.examples("train", 4, seed=1)
    prompts = [TASK.prompt(e.question) for e in train]
    hinted = [TASK.prompt(e.question, hint=e.answer) for e in train]
    right = [TASK.target(e) for e in train]
    wrong = [f"#{(int(e.answer) + 1) % 10}" for e in train]
    init = {hinted[0]: right[0], hinted[1]: right[1], hinted[2]: wrong[2], hinted[3]: wrong[3]}
    # proposals: example 0 correct (accepted), 1 wrong (rejected, valid memory),
    # 2 correct (its first valid rationale), 3 wrong (no valid memory)
    step1 = {prompts[0]: right[0], prompts[1]: wrong[1], prompts[2]: right[2], prompts[3]: wrong[3]}
    script = _Script([init, step1])
    monkeypatch.setattr(trice_mod, "sample", script)
    seen = {}

    def capture(model, tokenizer, ps, texts, weights, *, denom, batch_size=None):
        seen.update(
            prompts=list(ps), texts=list(texts), weights=torch.as_tensor(weights), denom=denom
        )
        return next(model.parameters()).sum() * 0.0

    monkeypatch.setattr(trice_mod, "weighted_nll", capture)
    monkeypatch.setattr(UniformSelector, "select", lambda self, b: torch.arange(4))
    res = TRICE(_cfg(steps=1, batch_size=4)).fit(_lm(tok), tok, TASK, train)
    assert res.memory == [right[0], right[1], right[2], None]
    assert res.valid == [True, True, True, False]
    expected = trice_weights(torch.tensor([1, 1, 0, 0]), torch.tensor([1, 0, 1, 0]))
    torch.testing.assert_close(seen["weights"], torch.cat([expected.memory, expected.proposal]))
    # the 2M terms: memories after the update, then the proposals, all under the plain prompt
    assert seen["prompts"] == prompts * 2 and seen["denom"] == 4.0
    assert seen["texts"][:3] == right[:3] and seen["texts"][4:] == [
        right[0],
        wrong[1],
        right[2],
        wrong[3],
    ]
    # β over the others: example 1 sees 2 accepted of 2 valid; its wrong proposal is pushed
    # down with weight −β = −1, and the two accepted memories get 1 − β = 1 − 1/2
    assert float(seen["weights"][5]) == pytest.approx(-1.0)
    assert float(seen["weights"][0]) == pytest.approx(0.5)
    assert res.metrics[0]["first_valid"] == 1 and res.metrics[0]["accepted"] == 2


def test_loss_gradient_is_the_weighted_score(tok):
    model = _lm(tok)
    ps, cs = ["1+2\n", "3*3\n"], ["+2=3 #3", "*3=9 #9"]
    w = torch.tensor([0.7, -0.4])
    loss = trice_mod.weighted_nll(model, tok, ps, cs, w, denom=2.0)
    lp = log_prob(model, tok, ps, cs)
    torch.testing.assert_close(loss, -(w * lp).sum() / 2)


def test_resume_continues_the_same_run(tok, tmp_path):
    train = TASK.examples("train", 8, seed=2)
    full = TRICE(_cfg(steps=4, checkpoint_every=2)).fit(
        _lm(tok), tok, TASK, train, run_dir=tmp_path / "a"
    )
    TRICE(_cfg(steps=2, checkpoint_every=2)).fit(_lm(tok), tok, TASK, train, run_dir=tmp_path / "b")
    model = _lm(tok)
    resumed = TRICE(_cfg(steps=4, checkpoint_every=2)).fit(
        model, tok, TASK, train, run_dir=tmp_path / "b", resume=True
    )
    assert resumed.memory == full.memory and resumed.samples == full.samples
    for a, b in zip(full.model.parameters(), model.parameters()):
        torch.testing.assert_close(a, b)
    logged = read_metrics(tmp_path / "b" / "metrics.jsonl")
    assert [r["step"] for r in logged] == [1, 2, 3, 4]
    with pytest.raises(ConfigError, match="control_variate"):
        TRICE(_cfg(steps=6, control_variate=False)).fit(
            _lm(tok), tok, TASK, train, run_dir=tmp_path / "b", resume=True
        )


def test_mopps_selector_and_budget(tok):
    train = TASK.examples("train", 10, seed=3)
    cfg = _cfg(steps=50, selector="mopps", selector_options={"forgetting": 0.5}, max_samples=22)
    res = TRICE(cfg).fit(_lm(tok), tok, TASK, train)
    # 10 hinted samples to start, then steps of 4 while the budget of 22 allows
    assert res.steps == 3 and res.samples == 22 and res.rollouts == 12


@pytest.mark.parametrize(
    ("option", "value", "match"),
    [
        ("batch_size", 0, "batch_size must lie in"),
        ("first_valid", "skip", "first_valid must be one of 'no_cv', 'paper'"),
        ("init", "random", "init must be one of 'hint', 'gold', 'none'"),
        ("selector", "greedy", "selector must be one of 'uniform', 'mopps'"),
        ("subsample", 0, "subsample must lie in"),
        ("control_variate", "yes", "control_variate must be True or False"),
        ("lr", -1.0, "lr must lie in"),
        ("subsample", 100, r"subsample \(M'\) must be at most 2 × batch_size = 32"),
        ("selector_options", {"target": 0.3}, "selector_options: selector 'uniform' takes no"),
        ("selector_options", [0.5], "selector_options must be a dict"),
    ],
)
def test_bad_config_values_name_the_option(option, value, match):
    with pytest.raises(ConfigError, match=match):
        TRICEConfig(**{option: value})


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"forget": 0.5}, r"selector_options: unknown MoPPS option\(s\) \['forget'\]"),
        ({"target": 1.5}, r"selector_options: target must lie in \[0, 1\]"),
        ({"rule": "interval", "interval": (0.8, 0.2)}, "selector_options: interval"),
    ],
)
def test_selector_options_are_checked_when_the_config_is_built(options, match):
    with pytest.raises(ConfigError, match=match):
        TRICEConfig(selector="mopps", selector_options=options)
    # what only the data can check is left to fit: per-prompt priors of any length
    TRICEConfig(selector="mopps", selector_options={"prior_alpha": torch.ones(5)})
    for reserved in ("seed", "n_prompts"):  # set by the trainer, not by options
        with pytest.raises(ConfigError, match=rf"unknown MoPPS option\(s\) \['{reserved}'\]"):
            TRICEConfig(selector="mopps", selector_options={reserved: 1})
    with pytest.raises(ConfigError, match="selector 'uniform' takes no options"):
        TRICEConfig(selector_options={"seed": 1})
    assert TRICEConfig(
        selector="mopps", selector_options={"rule": "interval", "interval": (0.2, 0.8)}
    )


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (lambda tok: (None, tok, TASK), "model must be a causal language model .* got NoneType"),
        (lambda tok: ("gpt2", tok, TASK), "got str; load it first with .*load_lm"),
        (lambda tok: (_lm(tok), None, TASK), "tokenizer must be the model's tokenizer"),
        (lambda tok: (_lm(tok), tok, None), "task must be a latentinfer Task"),
    ],
)
def test_fit_names_a_wrong_model_tokenizer_or_task(tok, args, match):
    with pytest.raises(ValidationError, match=match):
        TRICE(_cfg()).fit(*args(tok), TASK.examples("train", 4))


def test_batch_larger_than_the_data_is_refused(tok):
    with pytest.raises(ConfigError, match="batch_size must be at most the number of examples"):
        TRICE(_cfg(batch_size=9)).fit(_lm(tok), tok, TASK, TASK.examples("train", 4))


def test_gradient_variance_matches_a_direct_computation(tok):
    from latentinfer.reasoning.gradient_variance import gradient_variance

    model = _lm(tok)
    ps = ["1+2\n", "3*3\n", "4-1\n"]
    mem = ["+2=3 #3", None, "-1=3 #3"]
    prop = ["+2=4 #4", "*3=9 #9", "-1=3 #3"]
    w_mem, w_prop = torch.tensor([1.0, 0.0, 0.5]), torch.tensor([-0.5, 0.0, 0.0])
    out = gradient_variance(model, tok, ps, mem, prop, {"x": (w_mem, w_prop)})

    def flat(p, c):
        model.zero_grad()
        log_prob(model, tok, [p], [c]).sum().backward()
        return torch.cat([q.grad.reshape(-1) for q in model.parameters()])

    rows = torch.stack(
        [flat(ps[0], mem[0]) - 0.5 * flat(ps[0], prop[0]), torch.zeros_like(flat(ps[0], mem[0])),
         0.5 * flat(ps[2], mem[2])]
    )  # fmt: skip
    expected = float(rows.var(0, unbiased=True).sum() / 3)
    assert out["grad_var_x"] == pytest.approx(expected, rel=1e-4)
    assert out["grad_sq_x"] == pytest.approx(float((rows.mean(0) ** 2).sum()), rel=1e-4)


def test_one_process_under_accelerate_gives_the_plain_pytorch_numbers(tok, monkeypatch):
    # The Accelerate path (prepare, accelerator.backward, the wrapped optimizer, shards of
    # the whole batch) in one process: the same weights, bit for bit, as two TRICE steps
    # written out in plain PyTorch on the same scripted proposals.
    train = TASK.examples("train", 4, seed=4)
    prompts = [TASK.prompt(e.question) for e in train]
    hinted = [TASK.prompt(e.question, hint=e.answer) for e in train]
    right = [TASK.target(e) for e in train]
    init = {hinted[0]: right[0], hinted[1]: right[1]}
    steps = [{prompts[2]: right[2]}, {prompts[1]: right[1], prompts[3]: right[3]}]
    monkeypatch.setattr(trice_mod, "sample", _Script([init, *steps]))
    monkeypatch.setattr(UniformSelector, "select", lambda self, b: torch.arange(4))
    model = _lm(tok)
    res = TRICE(_cfg(steps=2, batch_size=4, lr=1e-2)).fit(model, tok, TASK, train)

    ref = _lm(tok)
    params = [p for p in ref.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-2, weight_decay=0.0)
    memory: list[str | None] = [right[0], right[1], None, None]
    losses = []
    for table in steps:
        proposals = [table.get(p, "#x") for p in prompts]
        acc = torch.tensor([TASK.is_correct(z, e.answer) for z, e in zip(proposals, train)])
        w = trice_weights(torch.tensor([m is not None for m in memory]), acc)
        memory = [z if ok else m for z, ok, m in zip(proposals, acc.tolist(), memory)]
        weights = torch.cat([w.memory, w.proposal])
        texts = [m or "" for m in memory] + proposals
        keep = [k for k in range(8) if float(weights[k]) != 0.0]
        lp = log_prob(ref, tok, [(prompts * 2)[k] for k in keep], [texts[k] for k in keep])
        loss = -(weights[keep] * lp).sum() / 4.0
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in ref.parameters() if p.grad is not None], 1.0)
        opt.step()
        losses.append(float(loss.detach()))
    assert res.memory == memory
    assert [r["loss"] for r in res.metrics] == losses
    for a, b in zip(model.parameters(), ref.parameters()):
        assert torch.equal(a, b)


def test_shards_split_a_batch_over_processes_like_tensor_split():
    from latentinfer.reasoning._training import Processes

    alone = Processes("cpu")
    assert (alone.world, alone.main, alone.shard(5)) == (1, True, (0, 5))
    assert alone.gather(["a", "b"]) == ["a", "b"] and alone.broadcast(3) == 3
    for n, world in [(4, 2), (5, 2), (7, 3), (2, 3)]:
        parts = []
        for rank in range(world):
            fake = object.__new__(Processes)
            fake.rank, fake.world = rank, world
            parts.append(fake.shard(n))
        sizes = [len(t) for t in torch.tensor_split(torch.arange(n), world)]
        assert [b - a for a, b in parts] == sizes
        assert parts[0][0] == 0 and parts[-1][1] == n
        assert all(parts[r][1] == parts[r + 1][0] for r in range(world - 1))
