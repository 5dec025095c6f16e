"""A character-level tokenizer that is a real ``transformers.PreTrainedTokenizerFast``.

Tiny models for tests, demos and CPU benchmarks read text one character at a time. Built
with the ``tokenizers`` library (a word-level model over single characters), the result is
an ordinary fast tokenizer: it pads, truncates, decodes, and ``save_pretrained`` /
``AutoTokenizer.from_pretrained`` round-trip it, so every code path that serves a tiny
model serves a real one.

Example:
    >>> tok = char_tokenizer("0123456789+=")
    >>> tok("12+3")["input_ids"]  # <bos> then one id per character
    [1, 5, 6, 14, 7]
    >>> tok.decode(tok("12+3")["input_ids"], skip_special_tokens=True)
    '12+3'
"""

from __future__ import annotations

import string
from typing import Any

from latentinfer.core.errors import ConfigError
from latentinfer.reasoning._deps import require

__all__ = ["DEFAULT_ALPHABET", "SPECIAL_TOKENS", "char_tokenizer"]

#: pad, bos, eos, unk: ids 0, 1, 2, 3 in this order.
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")
#: Printable ASCII: letters, digits, punctuation, space and newline (97 characters).
DEFAULT_ALPHABET = string.digits + string.ascii_letters + string.punctuation + " \n"


def char_tokenizer(alphabet: str | None = None) -> Any:
    """A character-level ``PreTrainedTokenizerFast``: one token per character.

    Args:
        alphabet: the characters of the vocabulary, in id order after the four special
            tokens (duplicates are dropped); ``None`` uses :data:`DEFAULT_ALPHABET`.
            Characters outside it encode to ``<unk>``.

    Returns:
        A ``transformers.PreTrainedTokenizerFast`` with ``pad_token="<pad>"`` (id 0),
        ``bos_token="<bos>"`` (1), ``eos_token="<eos>"`` (2), ``unk_token="<unk>"`` (3). Encoding
        with ``add_special_tokens=True`` (the default) puts ``<bos>`` first; ``eos`` is never
        added by the tokenizer (the trainers append it to targets). Decoding joins the
        characters without spaces.

    Raises:
        ConfigError: ``alphabet`` is empty or holds a special token's text.
    """
    transformers = require("transformers")
    tk = require("tokenizers")
    chars = DEFAULT_ALPHABET if alphabet is None else alphabet
    if not isinstance(chars, str) or not chars:
        raise ConfigError(f"alphabet must be a non-empty string of characters; got {alphabet!r}.")
    vocab: dict[str, int] = {s: i for i, s in enumerate(SPECIAL_TOKENS)}
    for c in chars:
        vocab.setdefault(c, len(vocab))
    core = tk.Tokenizer(tk.models.WordLevel(vocab=vocab, unk_token="<unk>"))
    # every character its own piece, newlines included
    core.pre_tokenizer = tk.pre_tokenizers.Split(tk.Regex(r"[\s\S]"), behavior="isolated")
    core.post_processor = tk.processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", 1)]
    )
    core.decoder = tk.decoders.Fuse()
    core.add_special_tokens(list(SPECIAL_TOKENS))
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        bos_token="<bos>",
        eos_token="<eos>",
        unk_token="<unk>",
        clean_up_tokenization_spaces=False,
    )
