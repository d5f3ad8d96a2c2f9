"""A character-level tokenizer built locally: every printable ASCII character is a token.

Compact board prompts are a dozen characters, so a character vocabulary keeps sequences
short and needs no training data. The chat template renders only the user and assistant
contents (a system message carries nothing the model can use), so a chat request and a
plain completion of the same user text see the same tokens, as the DPO trainer does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}{{ m['content'] }}"
    "{% elif m['role'] == 'assistant' %}{{ m['content'] }}{{ eos_token }}{% endif %}"
    "{% endfor %}"
)


def vocabulary() -> dict[str, int]:
    vocab = {PAD: 0, EOS: 1, UNK: 2}
    for code in range(32, 127):
        vocab[chr(code)] = len(vocab)
    return vocab


def build_tokenizer() -> PreTrainedTokenizerFast:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel(vocabulary(), unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=core, pad_token=PAD, eos_token=EOS, unk_token=UNK, bos_token=EOS
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
