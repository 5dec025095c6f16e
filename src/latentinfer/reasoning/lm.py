"""Causal language models: tiny ones built from a config, real ones loaded from disk.

:func:`tiny_lm` builds a freshly initialised GPT-2 or Llama-architecture model sized for a
CPU (``d_model=128, n_layers=2`` is about 0.4M parameters with a character vocabulary);
nothing is downloaded. :func:`load_lm` loads any Hugging Face causal LM and its tokenizer
from a local folder or the local cache (``local_files_only`` unless asked otherwise).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from latentinfer.core.errors import ConfigError, ValidationError
from latentinfer.core.validation import check_choice, check_number
from latentinfer.reasoning._deps import require

__all__ = ["ARCHITECTURES", "load_lm", "tiny_lm"]

ARCHITECTURES = ("llama", "gpt2")


def _token_ids(tokenizer: Any) -> dict[str, int]:
    ids = {}
    for name in ("pad", "bos", "eos"):
        value = getattr(tokenizer, f"{name}_token_id", None)
        if value is not None:
            ids[f"{name}_token_id"] = int(value)
    if "eos_token_id" not in ids:
        raise ValidationError(
            "tokenizer has no eos token; a causal LM needs one to end its completions "
            "(use latentinfer.reasoning.char_tokenizer() or set tokenizer.eos_token)."
        )
    return ids


def tiny_lm(
    tokenizer: Any,
    *,
    arch: str = "llama",
    d_model: int = 128,
    n_layers: int = 2,
    n_heads: int = 4,
    max_len: int = 256,
    seed: int = 0,
    dropout: float = 0.0,
) -> Any:
    """A small, freshly initialised causal LM for ``tokenizer``'s vocabulary.

    Args:
        tokenizer: the tokenizer whose vocabulary (``len(tokenizer)``) and special ids the
            model uses (e.g. :func:`~latentinfer.reasoning.char_tokenizer`).
        arch: ``"llama"`` (RoPE, SwiGLU, RMSNorm; untied embeddings) or ``"gpt2"`` (learned
            positions, GELU, LayerNorm; tied embeddings).
        d_model: hidden size (a multiple of ``n_heads``).
        n_layers: transformer blocks.
        n_heads: attention heads.
        max_len: the longest sequence (prompt + completion) in tokens.
        seed: seeds the initialisation (the global RNG is left as it was).
        dropout: dropout rate in attention and residual paths (0: none).

    Returns:
        A ``transformers.PreTrainedModel`` (``LlamaForCausalLM`` or ``GPT2LMHeadModel``) in
        eval mode, float32, on the CPU, using PyTorch's SDPA attention.

    Raises:
        ConfigError: an option is out of range or ``arch`` is unknown.
    """
    transformers = require("transformers")
    check_choice(arch, name="arch", choices=ARCHITECTURES)
    for name, value in (
        ("d_model", d_model),
        ("n_layers", n_layers),
        ("n_heads", n_heads),
        ("max_len", max_len),
    ):
        check_number(value, name=name, low=1, integer=True)
    check_number(seed, name="seed", low=0, integer=True)
    check_number(dropout, name="dropout", low=0.0, high=1.0, high_inclusive=False)
    if d_model % n_heads:
        raise ConfigError(
            f"d_model must be a multiple of n_heads; got d_model={d_model}, n_heads={n_heads}."
        )
    ids = _token_ids(tokenizer)
    vocab = len(tokenizer)
    config: Any
    if arch == "llama":
        config = transformers.LlamaConfig(
            vocab_size=vocab,
            hidden_size=d_model,
            intermediate_size=4 * d_model,
            num_hidden_layers=n_layers,
            num_attention_heads=n_heads,
            num_key_value_heads=n_heads,
            max_position_embeddings=max_len,
            attention_dropout=dropout,
            tie_word_embeddings=False,
            **ids,
        )
        cls = transformers.LlamaForCausalLM
    else:
        config = transformers.GPT2Config(
            vocab_size=vocab,
            n_embd=d_model,
            n_layer=n_layers,
            n_head=n_heads,
            n_positions=max_len,
            resid_pdrop=dropout,
            embd_pdrop=dropout,
            attn_pdrop=dropout,
            **ids,
        )
        cls = transformers.GPT2LMHeadModel
    config._attn_implementation = "sdpa"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = cls(config)
    return model.eval()


def load_lm(
    name_or_path: str | Path,
    *,
    dtype: torch.dtype | str | None = None,
    local_files_only: bool = True,
    **model_kwargs: Any,
) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer (``AutoModelForCausalLM`` / ``AutoTokenizer``).

    Args:
        name_or_path: a local folder written by ``save_pretrained`` (a run folder's
            ``model/``), or a model id already in the Hugging Face cache.
        dtype: the parameter dtype (``torch.float32``, ``"bfloat16"``, ...; ``None``: the
            checkpoint's own).
        local_files_only: never touch the network (the default); pass ``False`` to let
            Hugging Face download ``name_or_path``.
        **model_kwargs: passed on to ``AutoModelForCausalLM.from_pretrained``.

    Returns:
        ``(model, tokenizer)``; the model is in eval mode. A tokenizer without a pad token
        gets its eos token as pad token (the generation and scoring code pads explicitly,
        so this never changes a result).

    Raises:
        ValidationError: nothing loadable is at ``name_or_path``.
    """
    transformers = require("transformers")
    where = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or where.startswith(("/", ".", "~"))
    if (looks_like_path or where.count("/") > 1) and not Path(where).expanduser().exists():
        raise ValidationError(
            f"name_or_path {where!r} does not exist; pass a folder written by save_pretrained "
            "(a run folder, or its model/) or the id of a model in the local Hugging Face cache."
        )
    kwargs: dict[str, Any] = {"local_files_only": local_files_only, **model_kwargs}
    if dtype is not None:
        kwargs["dtype"] = dtype
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            where, local_files_only=local_files_only
        )
        model = transformers.AutoModelForCausalLM.from_pretrained(where, **kwargs)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValidationError(
            f"name_or_path {where!r} could not be loaded as a causal LM ({first}); pass a "
            "folder written by save_pretrained (e.g. a run folder's model/) or the id of a "
            "model in the local Hugging Face cache"
            + (" (local_files_only=True: nothing is downloaded)." if local_files_only else ".")
        ) from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model.eval(), tokenizer
