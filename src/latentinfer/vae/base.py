"""The latent-variable model contract and its scikit-learn-style front end.

A :class:`LatentVariableModel` is a ``torch.nn.Module`` with

- ``prior(*cond)``: p(z), a ``Distribution`` with event shape ``(latent_dim,)``;
- ``encode(x, *cond)``: q(z|x), a ``Distribution`` with batch shape ``(B,)``;
- ``decode(z, *cond)``: p(x|z), a ``Distribution`` whose event shape is one row of data;
- ``loss(batch)``: a :class:`~latentinfer.core.output.LossOutput` (``forward`` calls it),
  ``batch`` being ``x`` or ``(x, *cond)``.

Every diagnostic in :mod:`latentinfer.diagnostics` needs only these four methods.

On top of the contract the base class gives the estimator interface: ``fit`` (returns
``self``), ``transform`` (posterior means), ``sample``, ``score``/``score_samples`` (the
IWAE bound), ``get_params``/``set_params``, ``save``/``load``. Hyperparameters are the
constructor's arguments, stored under their own names; what is learned ends in ``_``.
Networks are built at ``fit`` from the data's shape (or at construction when
``input_shape`` is given). Data given as NumPy comes back as NumPy; tensors as tensors.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch
from torch import nn
from torch.distributions import Distribution

from latentinfer.core.checkpoint import load_checkpoint, save_checkpoint
from latentinfer.core.config import TrainConfig
from latentinfer.core.errors import CheckpointError, ConfigError, NotFittedError, ShapeError
from latentinfer.core.output import LossOutput
from latentinfer.core.params import EstimatorParams, same_value
from latentinfer.core.seeding import resolve_seed, rng_scope
from latentinfer.core.trainer import (
    Batch,
    Callback,
    TrainResult,
    is_main_process,
    split_validation,
    train,
)
from latentinfer.core.validation import (
    as_tensor,
    check_n_features,
    check_number,
    check_same_rows,
)
from latentinfer.inference.iwae import iwae_bound

__all__ = ["LatentVariableModel"]

ArrayLike = Any


def _like(t: torch.Tensor, ref: Any) -> Any:
    """``t`` as NumPy when ``ref`` was not a tensor, else as a tensor."""
    return t if isinstance(ref, torch.Tensor) else t.detach().cpu().numpy()


class LatentVariableModel(EstimatorParams, nn.Module, abc.ABC):
    """Abstract base of every amortised latent-variable model (VAE family, CEVAE, VLUCI, ...).

    Subclasses implement the contract (``prior``, ``encode``, ``decode``, ``loss``) and
    ``_build(feature_shape, cond_shapes)``, which creates the networks. They declare
    ``n_cond`` (how many conditioning tensors ``fit`` takes after ``X``) and store every
    constructor argument under its own name.
    """

    n_cond: ClassVar[int] = 0
    cond_names: ClassVar[tuple[str, ...]] = ()

    latent_dim: int
    seed: int | None
    train_config: TrainConfig | dict[str, Any] | None
    seed_: int | None
    _loaded: bool = False

    def __init__(self) -> None:
        super().__init__()
        self._built = False

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags: an unsupervised transformer (``transform`` gives the codes)."""
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        tags.transformer_tags = TransformerTags()
        return tags

    # ------------------------------------------------------------------ contract
    @abc.abstractmethod
    def prior(self, *cond: torch.Tensor) -> Distribution:
        """p(z) (conditional models: p(z | cond)), event shape ``(latent_dim,)``."""

    @abc.abstractmethod
    def encode(self, x: torch.Tensor, *cond: torch.Tensor) -> Distribution:
        """q(z | x, cond) for ``x`` of shape ``(B, *feature_shape)``; batch shape ``(B,)``."""

    @abc.abstractmethod
    def decode(self, z: torch.Tensor, *cond: torch.Tensor) -> Distribution:
        """p(x | z, cond) for ``z`` of shape ``(..., B, latent_dim)``."""

    @abc.abstractmethod
    def loss(self, batch: Batch) -> LossOutput:
        """The training objective (negative ELBO, mean over rows) with its named parts."""

    @abc.abstractmethod
    def _build(self, feature_shape: tuple[int, ...], cond_shapes: list[tuple[int, ...]]) -> None:
        """Create the networks for rows of shape ``feature_shape``."""

    def forward(self, batch: Batch) -> LossOutput:
        """Same as :meth:`loss` (so the trainer and DDP can call the module)."""
        return self.loss(batch)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name.endswith("_") and not name.startswith("_"):
                raise NotFittedError(
                    f"{type(self).__name__}.{name} is learned by fit; call fit(X) first."
                ) from None
            raise

    # ------------------------------------------------------------------ building
    def build(
        self, feature_shape: Sequence[int], *cond_shapes: Sequence[int], seed: int | None = None
    ) -> LatentVariableModel:
        """Create (or re-create) the networks with fresh weights drawn from ``seed`` (by
        default the model's ``seed``; a fresh one when that is None)."""
        shape = tuple(int(s) for s in feature_shape)
        conds = [tuple(int(s) for s in c) for c in cond_shapes]
        with rng_scope(resolve_seed(self.seed) if seed is None else seed):
            self._build(shape, conds)
        self.feature_shape_ = shape
        self.cond_shapes_ = conds
        self.n_features_in_ = int(np.prod(shape)) if shape else 1
        self._built = True
        return self

    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` (or ``load``) has run."""
        return hasattr(self, "train_result_") or getattr(self, "_loaded", False)

    def _check_built(self, what: str) -> None:
        if not self._built:
            raise NotFittedError(
                f"{type(self).__name__}.{what} needs a fitted model; call fit(X) first "
                "(or build(feature_shape) to use the untrained networks)."
            )

    def _device(self) -> torch.device:
        p = next(self.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    # -------------------------------------------------------------- data checks
    def _prepare_features(self, x: torch.Tensor) -> torch.Tensor:
        """Hook: reshape raw data into the model's feature layout (default: unchanged)."""
        return x

    def _check_support(self, x: torch.Tensor, *, name: str, fitting: bool) -> None:
        """Hook: raise if ``x`` is outside the likelihood's support (default: accept).

        At ``fitting`` time a model may also resolve data-dependent options here (e.g. a
        likelihood chosen from the data's range)."""

    def _as_data(
        self,
        X: ArrayLike,
        cond: Sequence[ArrayLike],
        *,
        fitting: bool,
        what: str = "transform",
        label: str = "",
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """``X`` and ``cond`` checked and as tensors; ``label`` prefixes the names that
        errors use (``"validation_data "``: ``validation_data X``)."""
        if len(cond) != self.n_cond:
            names = ", ".join(("X", *self.cond_names)) if self.n_cond else "X"
            where = f"{label.strip()} of " if label else ""
            raise ConfigError(
                f"{where}{type(self).__name__} takes {1 + self.n_cond} data argument(s) "
                f"({names}); got {1 + len(cond)}."
            )
        x_name = f"{label}X"
        x = self._prepare_features(as_tensor(X, name=x_name, ndim=(1, 2, 3, 4)))
        if x.ndim == 1:
            raise ShapeError(
                f"{x_name} must have one row per sample, shape (n_rows, n_features); got a 1-D "
                f"array of shape {tuple(x.shape)}. Use X.reshape(-1, 1) for a single feature "
                "or X.reshape(1, -1) for a single row."
            )
        cs = []
        for name, c in zip(self.cond_names, cond):
            t = as_tensor(c, name=f"{label}{name}", ndim=(1, 2))
            cs.append(t.unsqueeze(-1) if t.ndim == 1 else t)
        check_same_rows(
            **{x_name: x}, **{f"{label}{n}": c for n, c in zip(self.cond_names, cs, strict=True)}
        )
        if not fitting:
            self._check_built(what)
            check_n_features(x, self.feature_shape_, name="X")
            for name, c, shape in zip(self.cond_names, cs, self.cond_shapes_):
                check_n_features(c, shape, name=name)
        self._check_support(x, name=x_name, fitting=fitting)
        return x, tuple(cs)

    # -------------------------------------------------------------- estimator API
    def set_params(self, **params: Any) -> Self:
        """Set constructor arguments by name; they take effect at the next ``fit``.

        The values get the constructor's checks. Changing a parameter of a fitted model
        discards the fit (its networks were built for the old values): fit again.
        """
        before = self.get_params(deep=True)
        super().set_params(**params)
        changed = any(not same_value(before.get(k), v) for k, v in params.items())
        if changed and (self._built or self.is_fitted):
            self._discard_fit()
        return self

    def _discard_fit(self) -> None:
        """Forget what fit (or load) learned: the model reads as unfitted."""
        for name in [n for n in vars(self) if n.endswith("_") and not n.startswith("_")]:
            delattr(self, name)
        self._built = False
        self._loaded = False

    def _train_config(self, overrides: dict[str, Any]) -> TrainConfig:
        base = self.train_config
        if base is None:
            cfg = self._default_training()
        elif isinstance(base, TrainConfig):
            cfg = base
        elif isinstance(base, dict):
            unknown = sorted(set(base) - set(TrainConfig.__dataclass_fields__))
            if unknown:
                raise ConfigError(
                    f"train_config has unknown option(s) {unknown}; accepted: "
                    f"{sorted(TrainConfig.__dataclass_fields__)}."
                )
            cfg = self._default_training().replace(**base)
        else:
            raise ConfigError(
                f"train_config must be a TrainConfig, a dict of its options, or None; got {base!r}."
            )
        if overrides:
            unknown = sorted(set(overrides) - set(TrainConfig.__dataclass_fields__))
            if unknown:
                raise ConfigError(
                    f"unknown training option(s) {unknown} passed to fit; accepted: "
                    f"{sorted(TrainConfig.__dataclass_fields__)}."
                )
            cfg = cfg.replace(**overrides)
        return cfg

    def _default_training(self) -> TrainConfig:
        """Hook: the model's default training options."""
        return TrainConfig()

    def _training_callbacks(self, data: Batch, seed: int) -> list[Callback]:
        """Hook: callbacks the model needs during training (e.g. ARD's prior refresh)."""
        return []

    def _after_fit(self, data: Batch) -> None:
        """Hook: compute learned summaries (``relevance_``, ...) once training ends."""

    def fit(
        self,
        X: ArrayLike,
        *cond: ArrayLike,
        validation_data: ArrayLike | tuple[ArrayLike, ...] | None = None,
        run_dir: str | Path | None = None,
        resume: bool | str | Path = False,
        callbacks: Sequence[Callback] = (),
        **train_options: Any,
    ) -> LatentVariableModel:
        """Fit the model by maximising the ELBO, with early stopping on held-out rows.

        Args:
            X: data, shape ``(n_rows, *feature_shape)``, NumPy or tensor.
            *cond: conditioning data for conditional models (see ``cond_names``). A model
                without conditioning ignores one extra argument, the ``y`` of
                scikit-learn's ``fit(X, y)``, so it can sit in a Pipeline.
            validation_data: held-out ``X`` (or ``(X, *cond)``) for early stopping; by
                default ``train_config.val_fraction`` of the rows is held out.
            run_dir: folder for metrics, checkpoints and the final model (``None``: none).
            resume: continue from the newest checkpoint in ``run_dir`` (or a given one).
            callbacks: extra training callbacks.
            **train_options: override :class:`~latentinfer.core.config.TrainConfig` options
                for this fit (``max_epochs=50``, ``lr=3e-4``, ...).

        Returns:
            ``self``, fitted.
        """
        cfg = self._train_config(train_options)
        x, cs = self._as_data(X, self._without_y(cond), fitting=True)
        val: Batch | None = None
        if validation_data is not None:
            vx, *vc = validation_data if isinstance(validation_data, tuple) else (validation_data,)
            vx_t, vc_t = self._as_data(vx, vc, fitting=True, label="validation_data ")
            check_n_features(vx_t, tuple(x.shape[1:]), name="validation_data")
            val = vx_t if not vc_t else (vx_t, *vc_t)
        seed = resolve_seed(self.seed)
        self.seed_ = seed
        self.build(tuple(x.shape[1:]), *(tuple(c.shape[1:]) for c in cs), seed=seed)
        data: Batch = x if not cs else (x, *cs)
        data, val = split_validation(data, val, cfg, seed)
        with rng_scope(seed):
            result: TrainResult = train(
                self,
                data,
                cfg,
                seed=seed,
                val_data=val,
                run_dir=run_dir,
                resume=resume,
                callbacks=[*self._training_callbacks(data, seed), *callbacks],
                run_config=self.describe(),
            )
        self.train_result_ = result
        self.history_ = result.history
        self.eval()
        with torch.no_grad(), rng_scope(seed):
            self._after_fit(data)
        if run_dir is not None and is_main_process():
            self.save(Path(run_dir) / "model")
        return self

    def _batched(
        self,
        fn: Callable[..., torch.Tensor],
        x: torch.Tensor,
        cs: tuple[torch.Tensor, ...],
        batch_size: int = 4096,
    ) -> torch.Tensor:
        dev = self._device()
        outs = []
        for s in range(0, x.shape[0], batch_size):
            xb = x[s : s + batch_size].to(dev)
            cb = tuple(c[s : s + batch_size].to(dev) for c in cs)
            outs.append(fn(xb, *cb).cpu())
        return torch.cat(outs)

    @torch.no_grad()
    def transform(self, X: ArrayLike, *cond: ArrayLike) -> Any:
        """Posterior means E_q[z | x], shape ``(n_rows, latent_dim)``. A conditional model
        takes ``(X, *cond)`` as separate arguments or as one tuple."""
        X, cond = self._split_data(X, cond)
        x, cs = self._as_data(X, cond, fitting=False)
        out = self._batched(lambda xb, *cb: self.encode(xb, *cb).mean, x, cs)
        return _like(out, X)

    def fit_transform(self, X: ArrayLike, *cond: ArrayLike, **fit_options: Any) -> Any:
        """``fit(X, ...)`` then ``transform(X, ...)``."""
        cond = self._without_y(cond)
        return self.fit(X, *cond, **fit_options).transform(X, *cond)

    def _split_data(
        self, X: Any, cond: tuple[ArrayLike, ...]
    ) -> tuple[ArrayLike, tuple[ArrayLike, ...]]:
        """A conditional model's data given as one tuple ``(X, *cond)`` (what
        ``latent_data`` returns), unpacked; anything else as given."""
        if not cond and self.n_cond and isinstance(X, tuple) and len(X) == 1 + self.n_cond:
            return X[0], tuple(X[1:])
        return X, cond

    def _without_y(self, cond: tuple[ArrayLike, ...]) -> tuple[ArrayLike, ...]:
        """``cond`` without the ``y`` that scikit-learn passes an unsupervised model's
        ``fit(X, y)`` (a Pipeline does): a model without conditioning ignores it."""
        return () if self.n_cond == 0 and len(cond) == 1 else cond

    @torch.no_grad()
    def sample(self, n: int, *cond: ArrayLike, seed: int | None = None, mean: bool = True) -> Any:
        """New data from the model: z ~ p(z), then E[x|z] (``mean=True``) or x ~ p(x|z).

        Args:
            n: how many rows (for conditional models, ``cond`` gives one row each and ``n``
                must equal its number of rows).
            *cond: conditioning data, ``n`` rows.
            seed: seed of the draw (``None``: fresh).
            mean: return decoder means instead of draws from the likelihood.

        Returns:
            Shape ``(n, *feature_shape)``: NumPy when the conditioning data is NumPy, else
            a tensor (an unconditional model takes no data, so gives a tensor; ``.numpy()``
            converts it).
        """
        self._check_built("sample")
        check_number(n, name="n", low=1, integer=True)
        if len(cond) != self.n_cond:
            needs = (
                f"needs {', '.join(self.cond_names)} ({n} row(s)) after n"
                if self.n_cond
                else "takes only n (the model is unconditional)"
            )
            raise ConfigError(
                f"{type(self).__name__}.sample {needs}; got {len(cond)} data argument(s)."
            )
        dev = self._device()
        cs = tuple(
            as_tensor(c, name=name, ndim=(1, 2)).to(dev) for name, c in zip(self.cond_names, cond)
        )
        cs = tuple(c.unsqueeze(-1) if c.ndim == 1 else c for c in cs)
        for name, c, shape in zip(self.cond_names, cs, self.cond_shapes_):
            if c.shape[0] != n:
                raise ShapeError(f"{name} must have n={n} rows; got {c.shape[0]}.")
            check_n_features(c, shape, name=name)
        with rng_scope(seed):
            p = self.prior(*cs)
            z = p.sample(() if cs else (n,))
            px = self.decode(z, *cs)
            out = (px.mean if mean else px.sample()).cpu()
        return _like(out, cond[0]) if cond else out

    @torch.no_grad()
    def score_samples(
        self, X: ArrayLike, *cond: ArrayLike, k: int = 500, seed: int | None = 0
    ) -> Any:
        """IWAE bound on log p(x) per row (nats), with ``k`` importance samples; data as
        in :meth:`transform`."""
        check_number(k, name="k", low=1, integer=True)
        X, cond = self._split_data(X, cond)
        x, cs = self._as_data(X, self._without_y(cond), fitting=False, what="score")
        with rng_scope(seed):
            out = self._batched(lambda xb, *cb: iwae_bound(self, xb, *cb, k=k), x, cs, 256)
        return _like(out, X)

    def score(self, X: ArrayLike, *cond: ArrayLike, k: int = 500, seed: int | None = 0) -> float:
        """Mean IWAE bound on log p(x) over rows (higher is better); −score is the NLL. A
        model without conditioning ignores a ``y`` after ``X``, as in :meth:`fit`."""
        return float(np.mean(np.asarray(self.score_samples(X, *cond, k=k, seed=seed))))

    # ---------------------------------------------------------------- persistence
    def describe(self) -> dict[str, Any]:
        """JSON-able description: class path, parameters, data shapes."""
        params = {}
        for k, v in self.get_params(deep=False).items():
            if isinstance(v, TrainConfig):
                v = v.to_dict()
            elif isinstance(v, tuple):
                v = list(v)
            params[k] = v
        return {
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "params": params,
            "feature_shape": list(getattr(self, "feature_shape_", ()) or []),
            "cond_shapes": [list(c) for c in getattr(self, "cond_shapes_", [])],
            "seed_": getattr(self, "seed_", None),
        }

    def _fitted_state(self) -> dict[str, Any]:
        """Hook: JSON-able learned attributes to store with the weights."""
        return {}

    def _load_fitted_state(self, state: dict[str, Any]) -> None:
        """Hook: inverse of :meth:`_fitted_state`."""

    def save(self, path: str | Path) -> Path:
        """Save weights (safetensors) and description (JSON) to the folder ``path``."""
        self._check_built("save")
        meta = self.describe() | {"fitted": self._fitted_state()}
        if hasattr(self, "history_"):
            meta["history"] = self.history_
        return save_checkpoint(Path(path), {"model": self.state_dict()}, meta=meta)

    @classmethod
    def load(cls, path: str | Path) -> LatentVariableModel:
        """Load a model saved with :meth:`save` (or a run folder's ``model``)."""
        p = Path(path)
        if (p / "model").is_dir():
            p = p / "model"
        state, meta = load_checkpoint(p)
        if "class" not in meta or "model" not in state:
            raise CheckpointError(
                f"{str(p)!r} is a checkpoint but not a saved model (a training checkpoint "
                "step-<N> continues a run with fit(..., resume=True)); load the run folder "
                "or its model/ folder."
            )
        module, _, name = str(meta["class"]).rpartition(".")
        try:
            klass = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError):
            raise CheckpointError(
                f"{str(p)!r} holds a {meta['class']}, which cannot be imported here (a "
                "different latentinfer version, or a class of your own not imported?)."
            ) from None
        if not (isinstance(klass, type) and issubclass(klass, cls)):
            raise CheckpointError(f"{str(p)!r} holds a {meta['class']}, not a {cls.__name__}.")
        params = dict(meta["params"])
        if isinstance(params.get("train_config"), dict):
            params["train_config"] = TrainConfig.from_dict(params["train_config"])
        for k, v in params.items():
            if isinstance(v, list):
                params[k] = tuple(v)
        model = klass(**params)
        model._load_fitted_state(meta.get("fitted", {}))
        model.build(meta["feature_shape"], *meta.get("cond_shapes", []))
        model.load_state_dict(state["model"])
        model.seed_ = meta.get("seed_")
        if "history" in meta:
            model.history_ = meta["history"]
        model._loaded = True
        model.eval()
        return model
