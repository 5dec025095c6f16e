"""STaR on a tiny model: rejection sampling, rationalization, restarts, resume, errors."""

from __future__ import annotations

import pytest
import torch

from latentinfer.core.errors import ConfigError
from latentinfer.core.metrics import read_metrics
from latentinfer.reasoning import star as star_mod
from latentinfer.reasoning.lm import tiny_lm
from latentinfer.reasoning.star import STaR, STaRConfig
from latentinfer.reasoning.tasks.arithmetic import ArithmeticTask
from latentinfer.reasoning.tokenizer import char_tokenizer

TASK = ArithmeticTask(n_ops=2)


@pytest.fixture(scope="module")
def tok():
    return char_tokenizer()


def _lm(tok, seed=0):
    return tiny_lm(tok, d_model=32, n_layers=1, n_heads=2, max_len=64, seed=seed)


def _cfg(**kw):
    base = dict(rounds=2, base_steps=2, batch_size=4, max_new_tokens=14, progress=False)
    base.update(kw)
    return STaRConfig(**base)


class _Script:
    """A stand-in for ``sample``: correct completions for the listed prompts, else wrong."""

    def __init__(self, right):
        self.right = right
        self.prompts: list[list[str]] = []

    def __call__(self, model, tokenizer, prompts, **kw):
        self.prompts.append(list(prompts))
        return [[self.right.get(p, "#x")] for p in prompts]


def test_keeps_correct_and_rationalizes_failures(tok, monkeypatch):
    train = TASK.examples("train", 4, seed=0)
    plain = [TASK.prompt(e.question) for e in train]
    hinted = [TASK.prompt(e.question, hint=e.answer) for e in train]
    gold = [TASK.target(e) for e in train]
    # examples 0, 1 solved directly; 2 only with the hint; 3 never
    script = _Script({plain[0]: gold[0], plain[1]: gold[1], hinted[2]: gold[2]})
    monkeypatch.setattr(star_mod, "sample", script)
    trained = []

    def capture(model, tokenizer, prompts, texts, weights, *, denom, batch_size=None):
        trained.append((list(prompts), list(texts)))
        return next(model.parameters()).sum() * 0.0

    monkeypatch.setattr(star_mod, "weighted_nll", capture)
    res = STaR(_cfg(rounds=1, base_steps=3)).fit(_lm(tok), tok, TASK, train)
    # one plain sample per question, then the hint only for the two failures
    assert script.prompts == [plain, [hinted[2], hinted[3]]]
    assert res.samples == 6 and res.rollouts == 4
    assert sorted(res.kept) == [(0, gold[0], False), (1, gold[1], False), (2, gold[2], True)]
    assert res.metrics[0]["kept_rationalized"] == 1 and res.metrics[0]["train_accuracy"] == 0.5
    # fine-tuned for base_steps steps on the kept set, always with the plain prompt
    assert len(trained) == 3 and res.steps == 3
    for prompts, texts in trained:
        assert set(prompts) <= {plain[0], plain[1], plain[2]}
        assert set(texts) <= {gold[0], gold[1], gold[2]}


def test_step_schedule_grows_twenty_percent_a_round():
    cfg = STaRConfig(base_steps=40)
    assert [cfg.steps_in_round(r) for r in range(4)] == [40, 48, 58, 69]


@pytest.mark.parametrize("restart", [True, False])
def test_restart_from_base_or_continue(tok, monkeypatch, restart):
    # with restart, each round fine-tunes the base weights: round 2 starts where round 1 did
    train = TASK.examples("train", 4, seed=0)
    gold = {TASK.prompt(e.question): TASK.target(e) for e in train}
    monkeypatch.setattr(star_mod, "sample", _Script(gold))
    starts = []
    original = STaR._finetune

    def spy(self, model, *args, **kw):
        starts.append(torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone())
        return original(self, model, *args, **kw)

    monkeypatch.setattr(STaR, "_finetune", spy)
    model = _lm(tok)
    STaR(_cfg(restart=restart)).fit(model, tok, TASK, train)
    assert torch.equal(starts[0], starts[1]) is restart


def test_a_real_run_logs_and_resumes(tok, tmp_path):
    train = TASK.examples("train", 6, seed=1)
    held = TASK.examples("test", 3, seed=1)
    full = STaR(_cfg(rounds=2)).fit(_lm(tok), tok, TASK, train, run_dir=tmp_path / "a")
    STaR(_cfg(rounds=1)).fit(_lm(tok), tok, TASK, train, run_dir=tmp_path / "b")
    model = _lm(tok)
    resumed = STaR(_cfg(rounds=2)).fit(
        model, tok, TASK, train, eval_examples=held, run_dir=tmp_path / "b", resume=True
    )
    assert resumed.samples == full.samples and resumed.rounds == 2
    for a, b in zip(full.model.parameters(), model.parameters()):
        torch.testing.assert_close(a, b)
    logged = read_metrics(tmp_path / "b" / "metrics.jsonl")
    assert [r["round"] for r in logged if "round" in r] == [1, 2]
    assert 0 <= resumed.test_accuracy <= 1
    assert (tmp_path / "b" / "model" / "config.json").is_file()


def test_budget_and_mopps_selection(tok):
    train = TASK.examples("train", 10, seed=2)
    cfg = _cfg(rounds=10, questions_per_round=4, selector="mopps", max_samples=13)
    res = STaR(cfg).fit(_lm(tok), tok, TASK, train)
    assert res.samples <= 13 and res.rollouts >= 4


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"rounds": 0}, "rounds must lie in"),
        ({"step_growth": 0.5}, "step_growth must lie in"),
        ({"restart": "yes"}, "restart must be True or False"),
        ({"selector": "mopps"}, "selector='mopps' needs questions_per_round"),
        ({"selector": "best"}, "selector must be one of 'uniform', 'mopps'"),
        ({"temperature": -1.0}, "temperature must lie in"),
    ],
)
def test_bad_config_values_name_the_option(kw, match):
    with pytest.raises(ConfigError, match=match):
        STaRConfig(**kw)


def test_too_many_questions_per_round(tok):
    with pytest.raises(ConfigError, match="questions_per_round must be at most"):
        STaR(_cfg(questions_per_round=5)).fit(_lm(tok), tok, TASK, TASK.examples("train", 4))


def test_held_out_accuracy_sums_the_hits_of_every_shard(monkeypatch: pytest.MonkeyPatch) -> None:
    from latentinfer.reasoning import _training, evaluate

    examples = list(range(5))  # stand-ins: the stub below scores them
    correct = {0, 2, 3}  # the stub's right answers: 2 of rank 0's shard [0, 1, 2], 1 of [3, 4]

    def stub(
        model: object, tokenizer: object, task: object, items: list[int], **kw: object
    ) -> float:
        return sum(i in correct for i in items) / len(items)

    class TwoProcesses:  # rank 0 of 2; the other rank's (hits, rows) arrive through sum
        world, rank = 2, 0

        def shard(self, n: int) -> tuple[int, int]:
            return 0, (n + 1) // 2

        def sum(self, value: torch.Tensor) -> torch.Tensor:
            self.sent = value.clone()
            return value + torch.tensor([1.0, 2.0], dtype=torch.float64)

    class Model:
        def train(self) -> None:
            self.trained = True

    monkeypatch.setattr(evaluate, "accuracy", stub)
    procs, model = TwoProcesses(), Model()
    acc = _training.held_out_accuracy(
        model,
        None,
        None,
        examples,
        eval_max=None,
        max_new_tokens=4,
        procs=procs,  # type: ignore[arg-type]
    )
    assert procs.sent.tolist() == [2.0, 3.0] and acc == pytest.approx(3 / 5)
    assert model.trained
    # one process: the plain accuracy over eval_max examples
    assert (
        _training.held_out_accuracy(model, None, None, examples, eval_max=2, max_new_tokens=4)
        == 0.5
    )
