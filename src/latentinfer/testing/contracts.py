"""Check that a latent-variable model meets the contract every diagnostic relies on.

:func:`check_latent_model` runs a model through the contract and the estimator API and
returns a :class:`ContractReport` listing what failed, so a user can check their own
model (a subclass of :class:`~latentinfer.vae.LatentVariableModel`) the way ours are
checked in ``tests/contracts/``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentinfer.core.errors import ConfigError
from latentinfer.vae.base import LatentVariableModel

__all__ = ["ContractReport", "check_latent_model"]


@dataclass
class ContractReport:
    """Outcome of :func:`check_latent_model`.

    Attributes:
        checks: names of the checks that ran, in order.
        failures: one message per failed check.
    """

    checks: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return not self.failures


def check_latent_model(
    make: Callable[[], LatentVariableModel],
    data: Sequence[Any] | np.ndarray | torch.Tensor,
    *,
    tmp_path: str | Path | None = None,
    max_epochs: int = 2,
    atol: float = 1e-5,
) -> ContractReport:
    """Run the latent-model contract checks.

    Args:
        make: builds a fresh, seeded, unfitted model (called several times; the same
            seed must give the same numbers).
        data: ``(X,)`` or ``(X, *cond)``, a few dozen rows (a bare ``X`` is taken as
            ``(X,)``).
        tmp_path: folder for the save/load check (a temporary one when ``None``).
        max_epochs: epochs of the short fits.
        atol: tolerance of the sum-of-parts check.

    Returns:
        A :class:`ContractReport`; ``report.passed`` tells whether all checks passed.

    Raises:
        ConfigError: ``make`` is a model instead of a function that builds one.

    Example:
        >>> from latentinfer.vae import VAE
        >>> X = np.random.default_rng(0).random((40, 6), dtype=np.float32)
        >>> report = check_latent_model(lambda: VAE(latent_dim=2, hidden=(8,), seed=0), X)
        >>> report.passed, report.failures
        (True, [])
    """
    if isinstance(make, torch.nn.Module) or not callable(make):
        raise ConfigError(
            f"make must be a function that builds a fresh, unfitted model, such as "
            f"lambda: VAE(latent_dim=2, seed=0); got {type(make).__name__} (it is called "
            f"several times, for fits that must start alike)."
        )
    if isinstance(data, np.ndarray | torch.Tensor):
        data = (data,)
    report = ContractReport()

    def check(name: str, ok: bool, message: str) -> None:
        report.checks.append(name)
        if not ok:
            report.failures.append(f"{name}: {message}")

    fit_kwargs: dict[str, Any] = {"max_epochs": max_epochs, "progress": False}
    model = make()
    fitted = model.fit(*data, **fit_kwargs)
    check("fit returns self", fitted is model, f"fit returned {type(fitted).__name__}")
    x, cs = model._as_data(data[0], list(data[1:]), fitting=False)
    dev = model._device()
    x, cs = x.to(dev), tuple(c.to(dev) for c in cs)
    n = x.shape[0]

    with torch.no_grad():
        q = model.encode(x, *cs)
        d = q.event_shape[0] if len(q.event_shape) == 1 else -1
        check(
            "encode shapes",
            tuple(q.batch_shape) == (n,) and d > 0,
            f"q(z|x) has batch shape {tuple(q.batch_shape)} and event shape "
            f"{tuple(q.event_shape)}; expected ({n},) and (latent_dim,)",
        )
        p = model.prior(*cs)
        check(
            "prior event shape",
            tuple(p.event_shape) == (d,),
            f"p(z) has event shape {tuple(p.event_shape)}; expected ({d},)",
        )
        z = q.sample((3,))
        lp = model.decode(z, *cs).log_prob(x)
        check(
            "decode log_prob shape",
            tuple(lp.shape) == (3, n),
            f"p(x|z).log_prob(x) for z of shape {tuple(z.shape)} has shape "
            f"{tuple(lp.shape)}; expected (3, {n})",
        )
        check("decode log_prob finite", bool(torch.isfinite(lp).all()), "non-finite values")
        check(
            "prior log_prob shape",
            tuple(p.log_prob(z).shape) in ((3, n),),
            f"p(z).log_prob(z) has shape {tuple(p.log_prob(z).shape)}; expected (3, {n})",
        )

    model.train()
    batch = x if not cs else (x, *cs)
    out = model.loss(batch)
    total_parts = torch.stack([v.detach() for v in out.parts.values()]).sum()
    total = out.total.detach()
    check("loss is a scalar", out.total.ndim == 0, f"total has shape {tuple(out.total.shape)}")
    check(
        "loss parts sum to the total",
        bool(torch.allclose(total_parts, total, atol=atol, rtol=1e-5)),
        f"parts sum to {float(total_parts):.6g}, total is {float(total):.6g}",
    )
    kl = out.stats.get("kl_per_dim")
    if kl is not None:
        check(
            "kl_per_dim shape",
            tuple(kl.shape) == (d,),
            f"stats['kl_per_dim'] has shape {tuple(kl.shape)}; expected ({d},)",
        )
    model.zero_grad(set_to_none=True)
    out.total.backward()
    missing = [
        name
        for name, prm in model.named_parameters()
        if prm.requires_grad and (prm.grad is None or not torch.isfinite(prm.grad).all())
    ]
    check("gradients reach every parameter", not missing, f"no finite gradient for {missing}")
    model.eval()

    twin = make().fit(*data, **fit_kwargs)
    a = np.asarray(model.transform(*data))
    b = np.asarray(twin.transform(*data))
    check("transform shape", a.shape == (n, d), f"transform gave {a.shape}; expected ({n}, {d})")
    check(
        "same seed, same numbers",
        np.array_equal(a, b),
        f"two fits with the same seed differ by up to {np.abs(a - b).max():.3g}",
    )

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp_path or tmp) / "contract-model"
        try:
            model.save(folder)
            back = LatentVariableModel.load(folder)
            c = np.asarray(back.transform(*data))
            same = type(back) is type(model) and np.array_equal(a, c)
            check("save/load round trip", same, "the loaded model transforms differently")
        except Exception as exc:  # a model defined where it cannot be imported, ...
            check("save/load round trip", False, f"{type(exc).__name__}: {exc}")

    score = model.score(*data, k=4)
    check("IWAE bound finite", bool(np.isfinite(score)), f"score returned {score}")
    return report
