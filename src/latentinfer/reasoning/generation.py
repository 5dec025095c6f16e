"""The one generation and scoring path of the reasoning family.

Every method (SFT evaluation, STaR, TRICE, self-consistency) samples rationales with
:func:`sample` / :func:`sample_tokens` and scores them with :func:`log_prob`, on any Hugging
Face causal LM.

Generation is batched: prompts are left-padded to a common length, an attention mask hides
the padding and explicit position ids start every row at 0, so a row's output does not
depend on what else is in its batch (up to float rounding). A KV cache
(``transformers.DynamicCache``) makes each new token cost one single-position forward; the
output buffer and attention mask are allocated once; the loop stops when every row has
emitted eos (finished rows are fed pad tokens and their outputs ignored). The samples of
one prompt share its forward pass (the prompt's KV cache is computed once and repeated).
Temperature 0 is greedy decoding; otherwise the next token is drawn from
``softmax(logits / temperature)`` with the exponential-race trick (``argmax p / E`` with
``E ~ Exp(1)``), from an explicit ``torch.Generator``.

Scoring (:func:`log_prob`) is exact teacher forcing: one forward over prompt + completion
(+ eos), summing ``log p(token | prefix)`` over the completion's tokens only. It keeps the
autograd graph, so trainers backpropagate through it.

Texts are tokenized as ``tokenizer(prompt)`` (the tokenizer's special tokens, e.g. a leading
bos) followed by ``tokenizer(completion, add_special_tokens=False)``. With a character
tokenizer, re-tokenizing a decoded sample gives back its tokens; with a sub-word tokenizer
it may not (a known subtlety of scoring decoded text), so :func:`sample_tokens` also
returns the token ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from latentinfer.core.errors import ConfigError, ShapeError, ValidationError
from latentinfer.core.validation import check_number
from latentinfer.reasoning._deps import require

__all__ = ["Generation", "greedy", "log_prob", "sample", "sample_tokens"]

Tensor = torch.Tensor


@dataclass(frozen=True)
class Generation:
    """Sampled completions as token ids.

    Rows are prompt-major: row ``i * num_samples + j`` is sample ``j`` of prompt ``i``.

    Attributes:
        tokens: ``(n_rows, max_new_tokens)`` int64 generated ids; after a row's eos (which is
            kept) the row holds the pad id.
        lengths: ``(n_rows,)`` int64 number of generated tokens before eos (or before the
            length limit, for rows that never emitted eos).
        finished: ``(n_rows,)`` bool, whether the row ended with eos.
        num_samples: completions per prompt.
    """

    tokens: Tensor
    lengths: Tensor
    finished: Tensor
    num_samples: int

    def completion_ids(self, row: int) -> list[int]:
        """The generated ids of ``row`` without eos and padding."""
        return self.tokens[row, : int(self.lengths[row])].tolist()


# ----------------------------------------------------------------------------- checks
def _check_texts(texts: Any, *, name: str, allow_empty: bool) -> list[str]:
    if isinstance(texts, str):
        raise ValidationError(
            f"{name} must be a sequence of strings; got a single str {texts[:40]!r}. "
            "Wrap one text in a list."
        )
    try:
        items = list(texts)
    except TypeError:
        raise ValidationError(
            f"{name} must be a sequence of strings; got a {type(texts).__name__}."
        ) from None
    if not items:
        raise ValidationError(f"{name} is empty; pass at least one string.")
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise ValidationError(f"{name}[{i}] must be a str; got a {type(t).__name__}.")
        if not allow_empty and not t:
            raise ValidationError(f"{name}[{i}] is an empty string; pass non-empty text.")
    return items


def _special_id(tokenizer: Any, name: str) -> int:
    value = getattr(tokenizer, f"{name}_token_id", None)
    if value is None:
        if name == "pad":
            eos = getattr(tokenizer, "eos_token_id", None)
            if eos is not None:
                return int(eos)
        raise ValidationError(
            f"tokenizer has no {name} token; set tokenizer.{name}_token (load_lm and "
            "char_tokenizer do)."
        )
    return int(value)


def _encode(tokenizer: Any, texts: list[str], *, special: bool, name: str) -> list[list[int]]:
    ids: list[list[int]] = tokenizer(
        texts, add_special_tokens=special, return_attention_mask=False
    )["input_ids"]
    if special:
        for i, row in enumerate(ids):
            if not row:
                raise ValidationError(f"{name}[{i}] encodes to no tokens; pass non-empty text.")
    return ids


def _model_device(model: Any) -> torch.device:
    return next(model.parameters()).device


def _max_positions(model: Any) -> int | None:
    # a model wrapped for data parallelism (DDP, as ``accelerator.prepare`` gives) keeps its
    # config on the wrapped module; scoring goes through the wrapper so gradients all-reduce
    base = model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
    value = getattr(base.config, "max_position_embeddings", None)
    return int(value) if isinstance(value, int) else None


def _cache_kwarg(model: Any) -> str:
    """The forward argument that takes the KV cache: ``cache`` (transformers ≥ 5.2x) or
    ``past_key_values`` (earlier releases)."""
    import inspect

    params = inspect.signature(type(model).forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _left_pad(rows: list[list[int]], pad: int, width: int, device: torch.device) -> Tensor:
    out = torch.full((len(rows), width), pad, dtype=torch.long)
    for r, ids in enumerate(rows):
        if ids:
            out[r, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
    return out.to(device)


# ------------------------------------------------------------------------- generation
def _generate_chunk(
    model: Any,
    rows: list[list[int]],
    *,
    pad: int,
    eos: int,
    temperature: float,
    max_new_tokens: int,
    generator: torch.Generator | None,
    repeats: int = 1,
) -> tuple[Tensor, Tensor, Tensor]:
    """Generate ``repeats`` completions of each left-padded prompt in ``rows`` (the prompt
    is run once and its cache repeated); returns ``(tokens, lengths, finished)`` with
    ``len(rows) * repeats`` rows, prompt-major."""
    transformers = require("transformers")
    device = _model_device(model)
    width = max(len(r) for r in rows)
    ids = _left_pad(rows, pad, width, device)
    lens = torch.tensor([len(r) for r in rows], device=device)
    prompt_mask = (torch.arange(width, device=device) >= (width - lens)[:, None]).long()
    positions = (prompt_mask.cumsum(-1) - 1).clamp(min=0)
    cache_obj = transformers.DynamicCache()
    cache = {_cache_kwarg(model): cache_obj}
    result = model(
        input_ids=ids,
        attention_mask=prompt_mask,
        position_ids=positions,
        use_cache=True,
        logits_to_keep=1,
        **cache,
    )
    logits = result.logits[:, -1, :]
    if repeats > 1:
        cache_obj.batch_repeat_interleave(repeats)
        logits = logits.repeat_interleave(repeats, dim=0)
        prompt_mask = prompt_mask.repeat_interleave(repeats, dim=0)
        lens = lens.repeat_interleave(repeats)
    n = logits.shape[0]
    mask = torch.zeros((n, width + max_new_tokens), dtype=torch.long, device=device)
    mask[:, :width] = prompt_mask
    next_pos = lens[:, None].clone()
    out = torch.full((n, max_new_tokens), pad, dtype=torch.long, device=device)
    done = torch.zeros(n, dtype=torch.bool, device=device)
    pad_t = torch.tensor(pad, device=device)
    steps = max_new_tokens
    for t in range(max_new_tokens):
        if t > 0:
            logits = result.logits[:, -1, :]
        if temperature == 0:
            nxt = logits.argmax(-1)
        else:
            probs = torch.softmax(logits.float() / temperature, dim=-1)
            gen_device = generator.device if generator is not None else probs.device
            race = torch.empty(probs.shape, device=gen_device).exponential_(generator=generator)
            nxt = (probs / race.to(probs.device)).argmax(-1)
        nxt = torch.where(done, pad_t, nxt)
        out[:, t] = nxt
        done |= nxt == eos
        if t == max_new_tokens - 1 or bool(done.all()):
            steps = t + 1
            break
        mask[:, width + t] = 1
        result = model(
            input_ids=nxt[:, None],
            attention_mask=mask[:, : width + t + 1],
            position_ids=next_pos,
            use_cache=True,
            **cache,
        )
        next_pos += 1
    is_eos = out[:, :steps] == eos
    lengths = torch.where(is_eos.any(-1), is_eos.int().argmax(-1), steps)
    return out, lengths, is_eos.any(-1)


def sample_tokens(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    num_samples: int = 1,
    temperature: float = 1.0,
    max_new_tokens: int = 64,
    generator: torch.Generator | None = None,
    batch_size: int | None = None,
) -> Generation:
    """Sample ``num_samples`` completions of every prompt, as token ids.

    Args:
        model: a Hugging Face causal LM (``tiny_lm``, ``load_lm`` or any
            ``AutoModelForCausalLM``). It is run in eval mode (restored afterwards), without
            gradients.
        tokenizer: its tokenizer (needs an eos token; a missing pad token uses eos).
        prompts: ``n_prompts`` non-empty strings.
        num_samples: completions per prompt (≥ 1).
        temperature: 0 for greedy decoding, else the softmax temperature (> 0).
        max_new_tokens: the most tokens generated per completion, eos included.
        generator: the random stream for sampling (``None``: the global one).
        batch_size: rows (prompt × sample pairs) per forward pass; ``None``: all at once.

    Returns:
        A :class:`Generation` with ``n_prompts * num_samples`` rows, prompt-major.

    Raises:
        ValidationError: empty or non-string prompts, a model without a config, or a prompt
            plus ``max_new_tokens`` longer than the model's positions.
        ConfigError: ``num_samples``, ``temperature``, ``max_new_tokens`` or ``batch_size``
            out of range.
    """
    texts = _check_texts(prompts, name="prompts", allow_empty=False)
    check_number(num_samples, name="num_samples", low=1, integer=True)
    check_number(temperature, name="temperature", low=0.0)
    check_number(max_new_tokens, name="max_new_tokens", low=1, integer=True)
    check_number(batch_size, name="batch_size", low=1, integer=True, allow_none=True)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ConfigError(f"generator must be a torch.Generator or None; got {generator!r}.")
    eos, pad = _special_id(tokenizer, "eos"), _special_id(tokenizer, "pad")
    encoded = _encode(tokenizer, texts, special=True, name="prompts")
    limit = _max_positions(model)
    longest = max(len(r) for r in encoded)
    if limit is not None and longest + max_new_tokens > limit:
        raise ValidationError(
            f"the longest prompt ({longest} tokens) plus max_new_tokens={max_new_tokens} exceeds "
            f"the model's {limit} positions; lower max_new_tokens or shorten the prompts."
        )
    # Each prompt's forward pass is shared by its samples when a chunk holds them all.
    share = batch_size is None or batch_size >= num_samples
    repeats = num_samples if share else 1
    rows = encoded if share else [r for r in encoded for _ in range(num_samples)]
    chunk = len(rows) if batch_size is None else max(1, batch_size // repeats)
    was_training = model.training
    model.eval()
    parts: list[tuple[Tensor, Tensor, Tensor]] = []
    try:
        with torch.inference_mode():
            for start in range(0, len(rows), chunk):
                parts.append(
                    _generate_chunk(
                        model,
                        rows[start : start + chunk],
                        pad=pad,
                        eos=eos,
                        temperature=float(temperature),
                        max_new_tokens=max_new_tokens,
                        generator=generator,
                        repeats=repeats,
                    )
                )
    finally:
        model.train(was_training)
    return Generation(
        tokens=torch.cat([p[0] for p in parts]),
        lengths=torch.cat([p[1] for p in parts]),
        finished=torch.cat([p[2] for p in parts]),
        num_samples=num_samples,
    )


def _decode(tokenizer: Any, gen: Generation) -> list[str]:
    lengths = gen.lengths.tolist()
    rows = [row[:n] for row, n in zip(gen.tokens.tolist(), lengths)]
    return list(tokenizer.batch_decode(rows, skip_special_tokens=True))


def sample(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    num_samples: int = 1,
    temperature: float = 1.0,
    max_new_tokens: int = 64,
    generator: torch.Generator | None = None,
    batch_size: int | None = None,
) -> list[list[str]]:
    """Sample completions (rationale and answer) for each prompt, as text.

    The arguments are those of :func:`sample_tokens`.

    Returns:
        ``n_prompts`` lists of ``num_samples`` strings: the decoded completions without the
        prompt, eos and special tokens.

    Example:
        >>> from latentinfer.reasoning import char_tokenizer, tiny_lm
        >>> tok = char_tokenizer("0123456789+=")
        >>> lm = tiny_lm(tok, d_model=32, n_layers=1, n_heads=2)
        >>> g = torch.Generator().manual_seed(0)
        >>> out = sample(lm, tok, ["1+2=", "3+4="], num_samples=2, max_new_tokens=5, generator=g)
        >>> [len(o) for o in out]
        [2, 2]
    """
    gen = sample_tokens(
        model,
        tokenizer,
        prompts,
        num_samples=num_samples,
        temperature=temperature,
        max_new_tokens=max_new_tokens,
        generator=generator,
        batch_size=batch_size,
    )
    texts = _decode(tokenizer, gen)
    k = num_samples
    return [texts[i * k : (i + 1) * k] for i in range(len(texts) // k)]


def greedy(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 64,
    batch_size: int | None = None,
) -> list[str]:
    """The greedy (temperature 0) completion of each prompt, as text (one per prompt)."""
    out = sample(
        model,
        tokenizer,
        prompts,
        num_samples=1,
        temperature=0.0,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
    )
    return [o[0] for o in out]


# ---------------------------------------------------------------------------- scoring
def log_prob(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    completions: Sequence[str],
    *,
    add_eos: bool = True,
    batch_size: int | None = None,
) -> Tensor:
    """Exact ``log p(completion (+ eos) | prompt)`` of each pair, differentiably.

    Args:
        model: a Hugging Face causal LM; used in its current mode (train or eval).
        tokenizer: its tokenizer.
        prompts: ``B`` non-empty strings.
        completions: ``B`` strings (empty is allowed: with ``add_eos`` it scores eos alone).
        add_eos: also score the eos token after the completion (what a finished sample has).
        batch_size: pairs per forward pass (``None``: all at once).

    Returns:
        ``(B,)`` float32 tensor on the model's device: the sum over completion tokens
        (and eos) of ``log p(token | prompt, earlier tokens)``; prompt tokens are excluded.
        It carries gradients to the model's parameters (unless called under ``no_grad``).

    Raises:
        ValidationError: empty, non-string or mismatched inputs.
        ShapeError: ``prompts`` and ``completions`` differ in length.
    """
    p_texts = _check_texts(prompts, name="prompts", allow_empty=False)
    c_texts = _check_texts(completions, name="completions", allow_empty=True)
    if len(p_texts) != len(c_texts):
        raise ShapeError(
            f"prompts and completions must have the same length; got {len(p_texts)} prompts "
            f"and {len(c_texts)} completions."
        )
    check_number(batch_size, name="batch_size", low=1, integer=True, allow_none=True)
    eos, pad = _special_id(tokenizer, "eos"), _special_id(tokenizer, "pad")
    p_ids = _encode(tokenizer, p_texts, special=True, name="prompts")
    c_ids = _encode(tokenizer, c_texts, special=False, name="completions")
    if add_eos:
        c_ids = [[*c, eos] for c in c_ids]
    limit = _max_positions(model)
    longest = max(len(p) + len(c) for p, c in zip(p_ids, c_ids))
    if limit is not None and longest > limit:
        raise ValidationError(
            f"the longest prompt + completion has {longest} tokens, more than the model's "
            f"{limit} positions; shorten the texts."
        )
    chunk = batch_size or len(p_ids)
    device = _model_device(model)
    parts = [
        _score_chunk(model, p_ids[s : s + chunk], c_ids[s : s + chunk], pad=pad, device=device)
        for s in range(0, len(p_ids), chunk)
    ]
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def _score_chunk(
    model: Any,
    p_ids: list[list[int]],
    c_ids: list[list[int]],
    *,
    pad: int,
    device: torch.device,
) -> Tensor:
    """Score one chunk. Sequences are left-padded so that every completion ends in the last
    column; only the last ``max completion length`` logits are computed."""
    n_c = torch.tensor([len(c) for c in c_ids], device=device)
    k = int(n_c.max())
    if k == 0:
        zero = next(model.parameters()).sum() * 0.0  # keeps the graph (and the dtype)
        return zero.float().expand(len(p_ids)).clone()
    seqs = [p + c for p, c in zip(p_ids, c_ids)]
    width = max(len(s) for s in seqs)
    ids = _left_pad(seqs, pad, width, device)
    lens = torch.tensor([len(s) for s in seqs], device=device)
    mask = (torch.arange(width, device=device) >= (width - lens)[:, None]).long()
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    # logits at columns width-k-1 .. width-2 predict the last k tokens
    logits = model(
        input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=k + 1
    ).logits[:, :-1, :]
    logp = torch.log_softmax(logits.float(), dim=-1)
    targets = ids[:, width - k :]
    picked = logp.gather(-1, targets[..., None])[..., 0]  # (B, k)
    keep = torch.arange(k, device=device) >= (k - n_c)[:, None]
    return (picked * keep).sum(-1)
