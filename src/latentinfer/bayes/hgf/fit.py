"""Fit a network's parameters: maximum likelihood or MAP, one subject or thousands at once.

The objective is the summed surprise of the inputs (``"nlpd"``, or pyhgf's ``"pyhgf"``)
or of a subject's responses under a response model, minus the log prior. Positive
parameters (precisions, the response parameter) are fitted on the log scale, the others as
they are; priors are densities on that fitting scale (a ``torch.distributions``
distribution, or ``(loc, scale)`` for a Normal).

Gradients are exact: forward-mode derivatives through the filter from the native kernel
(or autograd through the eager backend). Each subject is an independent problem: Adam
steps per subject (a step that makes a subject's objective non-finite is undone and that
subject's step size halved), then damped Newton steps on a finite-difference Hessian of the
exact gradient, whose inverse at the optimum gives the Laplace standard errors.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from latentinfer.bayes.hgf import native
from latentinfer.bayes.hgf.codegen import KernelSpec
from latentinfer.bayes.hgf.eager import run_eager
from latentinfer.bayes.hgf.filtering import (
    _time_steps,
    _use_native,
    check_inputs,
    param_tensors,
)
from latentinfer.bayes.hgf.network import Network, ParamKey, parameter_batch
from latentinfer.bayes.hgf.responses import RESPONSE_PARAMETERS, ResponseModel
from latentinfer.core.errors import ConfigError, NonFiniteError, ShapeError, ValidationError
from latentinfer.core.progress import TrainProgress
from latentinfer.core.validation import check_choice, check_number

__all__ = ["Gradient", "HGFFit", "fit_network", "value_and_grad"]

logger = logging.getLogger("latentinfer")

OBJECTIVES = ("nlpd", "pyhgf", "response")


@dataclass(frozen=True, eq=False)
class HGFFit:
    """The result of :meth:`Network.fit`.

    Shapes are ``(batch,)`` per subject (``()`` for one subject), NumPy arrays.

    Attributes:
        names: the fitted parameters' names.
        values: per name, the fitted value (natural scale).
        stderr: per name, the Laplace standard error (natural scale, by the delta method;
            ``inf`` where the Hessian is not positive definite).
        covariance: ``(batch, K, K)``: the Laplace covariance on the fitting scale
            (``log`` for positive parameters; see ``transforms``).
        transforms: per name, ``"log"`` or ``"identity"``: the fitting scale.
        objective: the minimised negative log posterior (the negative log-likelihood
            without priors), per subject.
        log_likelihood: the log-likelihood of the fitted data (inputs or responses).
        objective_kind: ``"nlpd"``, ``"pyhgf"`` or ``"response"``.
        converged: per subject, whether the gradient norm fell below the tolerance.
        steps: gradient evaluations used.
        seconds: wall-clock time.
    """

    names: tuple[str, ...]
    values: dict[str, np.ndarray]
    stderr: dict[str, np.ndarray]
    covariance: np.ndarray
    transforms: dict[str, str]
    objective: np.ndarray
    log_likelihood: np.ndarray
    objective_kind: str
    converged: np.ndarray
    steps: int
    seconds: float

    def summary(self, subject: int = 0) -> list[tuple[str, float, float]]:
        """Rows ``(name, value, stderr)`` of one subject (the first by default), as floats
        on the natural scale."""
        n_subjects = int(np.size(self.objective))
        if isinstance(subject, bool) or not isinstance(subject, (int, np.integer)):
            raise ConfigError(f"subject must be an integer index; got {subject!r}.")
        if not -n_subjects <= subject < n_subjects:
            raise ConfigError(
                f"subject {subject} is out of range; the fit has {n_subjects} subject(s) "
                f"(0 to {n_subjects - 1})."
            )
        return [
            (n, float(np.ravel(self.values[n])[subject]), float(np.ravel(self.stderr[n])[subject]))
            for n in self.names
        ]


def _positive(key: ParamKey) -> bool:
    return key[0] in ("precision", "response")


def _prior_fn(prior: Any, name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if isinstance(prior, torch.distributions.Distribution):
        return prior.log_prob
    if isinstance(prior, (tuple, list)) and len(prior) == 2:
        loc, scale = float(prior[0]), float(prior[1])
        if not (math.isfinite(loc) and scale > 0 and math.isfinite(scale)):
            raise ConfigError(f"priors[{name!r}] = (loc, scale) needs a finite loc and scale > 0.")
        return torch.distributions.Normal(loc, scale).log_prob
    raise ConfigError(
        f"priors[{name!r}] must be a torch.distributions.Distribution or (loc, scale) for a "
        f"Normal on the fitting scale; got {prior!r}."
    )


class _Problem:
    """The objective and its gradient on the fitting scale, for every subject at once."""

    def __init__(
        self,
        net: Network,
        x: torch.Tensor,
        dts: torch.Tensor | None,
        y: torch.Tensor | None,
        response: ResponseModel | None,
        free: Sequence[ParamKey],
        kind: str,
        batch: int,
        use_native: bool,
        threads: int | None,
        observed: torch.Tensor | None = None,
    ) -> None:
        self.structure = net.structure()
        values: dict[ParamKey, Any] = dict(net.parameters())
        if response is not None:
            values[response.key] = response.value
        self.params = param_tensors(values, batch, x.dtype, x.device)
        self.free = tuple(free)
        self.keys = tuple(self.params)
        self.rows = [self.keys.index(k) for k in self.free]
        self.log = np.array([_positive(k) for k in self.free])
        self.kind = kind
        self.batch = batch
        self.x, self.dts, self.y, self.response = x, dts, y, response
        self.observed = observed
        self.use_native = use_native
        self.threads = threads
        self.calls = 0
        if use_native:
            surprise = () if kind == "response" else (kind,)
            self.spec = KernelSpec(
                structure=self.structure,
                params=self.keys,
                dtype="double" if x.dtype == torch.float64 else "float",
                surprise=surprise,
                store=False,
                grad=self.free,
                objective=0,
                unit_dt=dts is None,
                shared_inputs=x.shape[0] == 1 and batch > 1,
                shared_dt=dts is not None and dts.shape[0] == 1 and batch > 1,
                missing=observed is not None,
                response=response.kind if response is not None and kind == "response" else None,
                response_node=response.node if response is not None else -1,
                response_quantity=response.quantity if response is not None else "expected_mean",
            )
            # a copy: the fit writes trial values into it in place (rows in ``self.keys`` order)
            self.p = self.params.matrix.clone()
            self.xin = x.contiguous()
            self.din = None if dts is None else dts.contiguous()
            self.yin = None if y is None else y.contiguous()
            self.oin = None
            if observed is not None:
                shared = x.shape[0] == 1 and batch > 1
                self.oin = (observed[:1] if shared else observed).contiguous()
            self.call = native.PreparedCall(
                self.spec,
                self.p,
                self.xin,
                self.din,
                self.yin,
                observed=self.oin,
                threads=threads,
            )
            self.p_np = self.p.numpy()
            self.totals_np = self.call.output.totals.numpy()
            self.grads_np = (
                self.call.output.grads.numpy() if self.call.output.grads is not None else None
            )

    def natural(self, u: np.ndarray) -> np.ndarray:
        theta = u.copy()
        theta[self.log] = np.exp(u[self.log])
        return theta

    def start(self) -> np.ndarray:
        theta = torch.stack([self.params[k] for k in self.free]).double().cpu().numpy()
        theta[self.log] = np.log(theta[self.log])
        return theta

    def __call__(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(loss (B,), gradient (K, B))`` on the fitting scale, float64."""
        self.calls += 1
        theta = self.natural(u)
        if self.use_native:
            self.p_np[self.rows] = theta
            self.call.run()
            loss = self.totals_np[0].copy()
            grad = self.grads_np.copy() if self.grads_np is not None else np.zeros_like(u)
        else:
            loss, grad = self._eager(theta)
        # chain rule to the fitting scale: dθ/du = θ for log-scale parameters
        grad = np.where(self.log[:, None], grad * theta, grad)
        return loss, grad

    def _eager(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        params = dict(self.params)
        leaves = []
        for k, row in zip(self.free, theta):
            t = torch.tensor(row, dtype=self.x.dtype, device=self.x.device, requires_grad=True)
            params[k] = t
            leaves.append(t)
        kinds = () if self.kind == "response" else (self.kind,)
        out = run_eager(
            self.structure,
            params,
            self.x.expand(self.batch, -1, -1),
            None if self.dts is None else self.dts.expand(self.batch, -1),
            store=False,
            surprise=kinds,
            response=self.response if self.kind == "response" else None,
            responses=self.y,
            observed=None if self.observed is None else self.observed.expand(self.batch, -1, -1),
        )
        loss = out.totals[self.kind]
        grads = torch.autograd.grad(loss.sum(), leaves, allow_unused=True)
        g = [torch.zeros_like(lf) if gi is None else gi for gi, lf in zip(grads, leaves)]
        return loss.detach().double().cpu().numpy(), torch.stack(g).double().cpu().numpy()


def _with_prior(
    problem: _Problem, priors: Sequence[Callable[[torch.Tensor], torch.Tensor] | None]
) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    if not any(p is not None for p in priors):
        return problem

    def f(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        loss, grad = problem(u)
        loss, grad = loss.copy(), grad.copy()
        for j, prior in enumerate(priors):
            if prior is None:
                continue
            t = torch.tensor(u[j], dtype=torch.float64, requires_grad=True)
            lp = prior(t)
            (g,) = torch.autograd.grad(lp.sum(), t)
            loss -= lp.detach().numpy()
            grad[j] -= g.numpy()
        return loss, grad

    return f


def _hessian(f: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], u: np.ndarray) -> np.ndarray:
    """``(B, K, K)`` by central differences of the exact gradient (symmetrised)."""
    k, b = u.shape
    h = 1e-4 * np.maximum(1.0, np.abs(u))
    hess = np.empty((b, k, k))
    for j in range(k):
        up, down = u.copy(), u.copy()
        up[j] += h[j]
        down[j] -= h[j]
        gp, gm = f(up)[1], f(down)[1]
        hess[:, :, j] = ((gp - gm) / (2.0 * h[j])).T
    return 0.5 * (hess + hess.transpose(0, 2, 1))


@dataclass(frozen=True)
class _Setup:
    problem: _Problem
    names: list[str]
    keys: list[ParamKey]
    priors: list[Any]
    batch: int


def _setup(
    net: Network,
    inputs: Any,
    responses: Any,
    *,
    free: Sequence[str] | None,
    priors: Mapping[str, Any] | None,
    response_model: str | None,
    response_node: int | None,
    response_quantity: str,
    objective: str | None,
    time_steps: Any,
    observed: Any,
    dtype: torch.dtype,
    backend: str,
    threads: int | None,
) -> _Setup:
    """Check a fit's arguments and build its objective."""
    check_choice(dtype, name="dtype", choices=(torch.float32, torch.float64))
    if isinstance(responses, str) or (
        isinstance(responses, (list, tuple)) and any(isinstance(r, str) for r in responses)
    ):
        raise ConfigError(
            f"responses (the second argument) got parameter names {responses!r}; pass them "
            "by keyword, free=[...], and responses (if any) shaped like the inputs."
        )
    structure = net.structure()
    x, mask, _, _ = check_inputs(inputs, structure, dtype, observed=observed)
    if mask is not None and responses is None:
        empty = (mask.sum(dim=(1, 2)) == 0).nonzero()[:, 0]
        if len(empty):
            raise ValidationError(
                f"subject(s) {empty[:10].tolist()} have no observed input, so nothing can be "
                "fitted for them; drop them (or give their responses and a response_model)."
            )
    dts = _time_steps(time_steps, x)
    response = None
    if response_model is not None:
        response = ResponseModel.make(
            response_model, structure, node=response_node, quantity=response_quantity
        )
    elif responses is not None:
        raise ConfigError(
            "responses were given without a response_model; pass response_model="
            "'unit_square_sigmoid' (binary choices) or 'gaussian'."
        )
    if response is not None and responses is None and objective is None:
        raise ConfigError(
            f"response_model={response_model!r} was given without responses; pass the "
            "subject's responses as the second argument (shaped like the inputs), or drop "
            "response_model to fit the inputs alone."
        )
    kind = objective or ("response" if response is not None else "nlpd")
    check_choice(kind, name="objective", choices=OBJECTIVES)
    if kind == "response" and (response is None or responses is None):
        raise ConfigError("objective='response' needs responses and a response_model.")
    batch = max(x.shape[0], parameter_batch(net.parameters().values()))
    y = None
    if response is not None and responses is not None:
        y = response.check_responses(responses, (batch, x.shape[1]), x.dtype)
    if x.shape[0] not in (1, batch):
        raise ShapeError(
            f"the inputs hold {x.shape[0]} series but the parameters hold {batch} settings."
        )
    if isinstance(free, str):  # one name, not its characters
        free = [free]
    names = list(free) if free is not None else _default_free(net, response)
    if not names:
        raise ConfigError("free is empty; name at least one parameter to fit.")
    keys = []
    for n in names:
        if response is not None and n == response.parameter:
            keys.append(response.key)
        elif n in RESPONSE_PARAMETERS:
            raise ConfigError(
                f"free names {n!r}, the parameter of the {RESPONSE_PARAMETERS[n]!r} response "
                f"model; pass response_model={RESPONSE_PARAMETERS[n]!r} and the responses."
            )
        else:
            keys.append(net.resolve(n))
    if len(set(keys)) != len(keys):
        raise ConfigError(f"free names a parameter twice: {names}.")
    prior_fns: list[Any] = [None] * len(names)
    for pname, prior in (priors or {}).items():
        if pname not in names:
            raise ConfigError(
                f"priors names {pname!r}, which is not fitted; fitted parameters: {names}."
            )
        prior_fns[names.index(pname)] = _prior_fn(prior, pname)
    use_native = _use_native(backend, x)
    problem = _Problem(
        net, x, dts, y, response, keys, kind, batch, use_native, threads, observed=mask
    )
    return _Setup(problem, names, keys, prior_fns, batch)


@dataclass(frozen=True)
class Gradient:
    """The objective and its gradient at the network's current parameters.

    Attributes:
        value: the summed surprise (minus the log prior, with priors), per series.
        grad: per parameter name, d value / d parameter on the natural scale, per series.
    """

    value: np.ndarray
    grad: dict[str, np.ndarray]


def value_and_grad(
    net: Network,
    inputs: Any,
    responses: Any = None,
    *,
    free: Sequence[str] | None = None,
    priors: Mapping[str, Any] | None = None,
    response_model: str | None = None,
    response_node: int | None = None,
    response_quantity: str = "expected_mean",
    objective: str | None = None,
    time_steps: Any = None,
    observed: Any = None,
    dtype: torch.dtype = torch.float64,
    backend: str = "auto",
    threads: int | None = None,
) -> Gradient:
    """The objective of :meth:`Network.fit` and its exact gradient, one pass."""
    setup = _setup(
        net,
        inputs,
        responses,
        free=free,
        priors=priors,
        response_model=response_model,
        response_node=response_node,
        response_quantity=response_quantity,
        objective=objective,
        time_steps=time_steps,
        observed=observed,
        dtype=dtype,
        backend=backend,
        threads=threads,
    )
    problem = setup.problem
    u = problem.start()
    loss, grad = _with_prior(problem, setup.priors)(u)
    theta = problem.natural(u)
    grad = np.where(problem.log[:, None], grad / theta, grad)
    squeeze = setup.batch == 1
    return Gradient(
        value=loss[0] if squeeze else loss,
        grad={n: (g[0] if squeeze else g) for n, g in zip(setup.names, grad)},
    )


def fit_network(
    net: Network,
    inputs: Any,
    responses: Any = None,
    *,
    free: Sequence[str] | None = None,
    priors: Mapping[str, Any] | None = None,
    response_model: str | None = None,
    response_node: int | None = None,
    response_quantity: str = "expected_mean",
    objective: str | None = None,
    time_steps: Any = None,
    observed: Any = None,
    dtype: torch.dtype = torch.float64,
    max_steps: int = 300,
    lr: float = 0.05,
    optimizer: str = "adam",
    tol: float = 1e-5,
    newton_steps: int = 20,
    standard_errors: bool = True,
    backend: str = "auto",
    progress: bool | None = None,
    threads: int | None = None,
) -> HGFFit:
    """Fit ``net``'s free parameters; see :meth:`Network.fit` for the arguments."""
    start_time = time.perf_counter()
    check_number(max_steps, name="max_steps", low=0, integer=True)
    check_number(newton_steps, name="newton_steps", low=0, integer=True)
    check_number(lr, name="lr", low=0, low_inclusive=False)
    check_number(tol, name="tol", low=0, low_inclusive=False)
    check_choice(optimizer, name="optimizer", choices=("adam", "gd"))
    setup = _setup(
        net,
        inputs,
        responses,
        free=free,
        priors=priors,
        response_model=response_model,
        response_node=response_node,
        response_quantity=response_quantity,
        objective=objective,
        time_steps=time_steps,
        observed=observed,
        dtype=dtype,
        backend=backend,
        threads=threads,
    )
    problem, names, keys, prior_fns, batch = (
        setup.problem,
        setup.names,
        setup.keys,
        setup.priors,
        setup.batch,
    )
    kind = problem.kind
    f = _with_prior(problem, prior_fns)

    u = problem.start()
    loss, grad = f(u)
    bad = ~np.isfinite(loss)
    if bad.any():
        subjects = np.nonzero(bad)[0][:10].tolist()
        raise NonFiniteError(
            f"the starting parameters give a non-finite objective for subject(s) {subjects}; "
            "start from other values (net.set_parameter) or filter them to see where the "
            "beliefs break (net.filter(...)).",
            part="objective",
        )
    u, loss, grad, _ = _first_order(f, u, loss, grad, max_steps, lr, tol, progress, optimizer)
    u, loss, grad, hess = _newton(f, u, loss, grad, newton_steps, tol, standard_errors)
    theta = problem.natural(u)
    gnorm = np.max(np.abs(grad), axis=0)
    converged = gnorm < tol * np.maximum(1.0, np.abs(loss)) ** 0.5
    if standard_errors:
        cov, se_u = _laplace(hess)
    else:
        cov = np.full((batch, len(names), len(names)), np.nan)
        se_u = np.full((len(names), batch), np.nan)
    se = np.where(problem.log[:, None], se_u * theta, se_u)
    # write the fitted values back to the network
    for key, row in zip(keys, theta):
        if key[0] != "response":
            value: Any = float(row[0]) if batch == 1 else torch.tensor(row)
            net.set_parameter(key, value)
    squeeze = batch == 1

    def out(a: np.ndarray) -> np.ndarray:
        return a[0] if squeeze else a

    loglik = -loss
    if any(p is not None for p in prior_fns):
        loglik = -problem(u)[0]
    return HGFFit(
        names=tuple(names),
        values={n: out(theta[j]) for j, n in enumerate(names)},
        stderr={n: out(se[j]) for j, n in enumerate(names)},
        covariance=cov[0] if squeeze else cov,
        transforms={n: "log" if problem.log[j] else "identity" for j, n in enumerate(names)},
        objective=out(loss),
        log_likelihood=out(loglik),
        objective_kind=kind,
        converged=out(converged),
        steps=problem.calls,
        seconds=time.perf_counter() - start_time,
    )


def _default_free(net: Network, response: ResponseModel | None) -> list[str]:
    names = [n for n in net.parameter_names() if n.startswith("tonic_volatility_")]
    if response is not None:
        names.append(response.parameter)
    return names


def _first_order(
    f: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    u: np.ndarray,
    loss: np.ndarray,
    grad: np.ndarray,
    max_steps: int,
    lr: float,
    tol: float,
    progress: bool | None,
    optimizer: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Adam (or plain gradient descent) per subject, returning each subject's lowest
    objective seen. A proposal whose objective or gradient is not finite is undone and
    that subject's step size halved; a finite proposal that is worse is kept as the
    iterate (Adam needs to move through it) but never returned."""
    b1, b2, eps = 0.9, 0.999, 1e-8
    m = np.zeros_like(u)
    v = np.zeros_like(u)
    rate = np.full(u.shape[1], lr)
    cur_u, cur_grad = u.copy(), grad.copy()
    best_u, best_loss, best_grad = u.copy(), loss.copy(), grad.copy()
    bar = TrainProgress(max_steps, enabled=progress and max_steps > 0, description="fit HGF")
    step = 0
    with bar:
        for step in range(1, max_steps + 1):
            if optimizer == "gd":
                proposal = cur_u - rate * cur_grad
            else:
                m = b1 * m + (1 - b1) * cur_grad
                v = b2 * v + (1 - b2) * cur_grad * cur_grad
                mhat = m / (1 - b1**step)
                vhat = v / (1 - b2**step)
                proposal = cur_u - rate * mhat / (np.sqrt(vhat) + eps)
            loss, grad = f(proposal)
            ok = np.isfinite(loss) & np.all(np.isfinite(grad), axis=0)
            rate = np.where(ok, rate, rate * 0.5)
            cur_u = np.where(ok, proposal, cur_u)
            cur_grad = np.where(ok, grad, cur_grad)
            better = ok & (loss < best_loss)
            best_u = np.where(better, proposal, best_u)
            best_loss = np.where(better, loss, best_loss)
            best_grad = np.where(better, grad, best_grad)
            if step % 25 == 0:
                bar.update(step, loss=float(np.mean(best_loss)))
                if float(np.max(np.abs(cur_grad))) < tol:
                    break
        bar.finish(step)
    return best_u, best_loss, best_grad, step


def _newton(
    f: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    u: np.ndarray,
    loss: np.ndarray,
    grad: np.ndarray,
    steps: int,
    tol: float,
    need_hessian: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Levenberg-damped Newton steps per subject; returns the final Hessian too."""
    k, b = u.shape
    if steps == 0 and not need_hessian:
        return u, loss, grad, np.full((b, k, k), np.nan)
    damping = np.full(b, 1e-3)
    hess = _hessian(f, u)
    eye = np.eye(k)
    for _ in range(steps):
        if float(np.max(np.abs(grad))) < tol:
            break
        scale = np.abs(np.diagonal(hess, axis1=1, axis2=2)).max(axis=1) + 1e-12
        a = hess + (damping * scale)[:, None, None] * eye
        try:
            delta = np.linalg.solve(a, -grad.T[:, :, None])[:, :, 0].T
        except np.linalg.LinAlgError:
            break
        proposal = u + delta
        new_loss, new_grad = f(proposal)
        better = np.isfinite(new_loss) & (new_loss <= loss)
        u = np.where(better, proposal, u)
        loss = np.where(better, new_loss, loss)
        grad = np.where(better, new_grad, grad)
        damping = np.where(better, damping * 0.3, damping * 10.0)
        if better.any():
            hess = _hessian(f, u)
    return u, loss, grad, hess


def _laplace(hess: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Covariance ``(B, K, K)`` and standard errors ``(K, B)``; inf where not PD."""
    b, k, _ = hess.shape
    cov = np.full_like(hess, np.inf)
    se = np.full((k, b), np.inf)
    finite = np.all(np.isfinite(hess), axis=(1, 2))
    pd = finite.copy()
    if finite.any():
        # eigenvalues only of the finite Hessians: LAPACK does not converge on inf/NaN.
        # Positive definite to working precision: a smallest eigenvalue within rounding of
        # zero gives an inverse whose diagonal can come out negative (NaN errors)
        eig = np.linalg.eigvalsh(hess[finite])
        pd[finite] = eig[:, 0] > 1e-12 * np.abs(eig).max(axis=1)
    if pd.any():
        inv = np.linalg.inv(hess[pd])
        diag = np.diagonal(inv, axis1=1, axis2=2)
        ok = np.all(np.isfinite(inv), axis=(1, 2)) & np.all(diag > 0, axis=1)
        rows = np.nonzero(pd)[0]
        pd[rows[~ok]] = False
        cov[rows[ok]] = inv[ok]
        se[:, rows[ok]] = np.sqrt(diag[ok]).T
    if not pd.all():
        bad = np.nonzero(~pd)[0][:10].tolist()
        warnings.warn(
            f"the Hessian is not positive definite at the fit of subject(s) {bad} (to "
            "working precision): the "
            "objective is flat or curved the wrong way there, so their standard errors are "
            "reported as inf (fix or drop a parameter, or add a prior).",
            RuntimeWarning,
            stacklevel=3,
        )
    return cov, se
