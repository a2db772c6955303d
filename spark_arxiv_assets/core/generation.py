"""Batched chat generation with left padding: shared by the local teacher and the evaluation; and the
answer decoding rule the evaluation and the chat share."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

ANSWER_NGRAM_GUARD = 4  # an answer may not repeat its own 4-grams (greedy small models loop otherwise)


def answer_loop_guard(prompt_length: int, n: int = ANSWER_NGRAM_GUARD):
    """A logits processor that bans a token completing an n-gram the *answer* already contains.
    transformers' `repetition_penalty` and `no_repeat_ngram_size` look at the prompt too, so they
    penalize copying from the passages, which is what an extractive answer must do: with
    `repetition_penalty=1.1` the base model's token F1 on the sample halved (benchmarks/answer_decoding.py)."""
    import torch
    from transformers import LogitsProcessor

    class AnswerNgramGuard(LogitsProcessor):
        def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
            generated = input_ids[:, prompt_length:]
            if generated.shape[1] < n:
                return scores
            for row, tokens in enumerate(generated.tolist()):
                prefix, seen = tuple(tokens[-(n - 1):]), set()
                for start in range(len(tokens) - n + 1):
                    if tuple(tokens[start:start + n - 1]) == prefix:
                        seen.add(tokens[start + n - 1])
                if seen:
                    scores[row, list(seen)] = -float("inf")
            return scores

    return AnswerNgramGuard()


@dataclass
class Generated:
    text: str
    new_tokens: int


def generate_chat(model, tokenizer, conversations: list[list[dict]], batch_size: int = 8, max_new_tokens: int = 128,
                  temperature: float = 0.0, prefill: str = "", loop_guard: bool = False,
                  stop_strings: list[str] | None = None, avoid: list[str] | None = None,
                  on_batch: Callable[[int], None] | None = None) -> list[Generated]:
    """Continues each conversation as the assistant; `prefill` starts every reply; `loop_guard` applies
    `answer_loop_guard` (answers, not the teacher's JSON, whose keys repeat by design); a row ends
    once its new text contains one of `stop_strings` (the batch when every row has); no reply holds
    a phrase of `avoid` (its last token is banned where the rest of it was just written); `on_batch`
    is told how many replies each finished batch added (for progress)."""
    import torch

    tokenizer.padding_side = "left"  # every row then continues from its own last token
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    device = next(model.parameters()).device
    sampling = {"do_sample": True, "temperature": temperature, "top_p": 0.95} if temperature > 0 else {"do_sample": False}
    prompts = [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) + prefill
               for c in conversations]
    # Batches of similar length: a short prompt batched with long ones is padded to their length,
    # and the prefill, most of the work on RAG prompts, pays for the padding.
    lengths = [len(ids) for ids in tokenizer(prompts, add_special_tokens=False)["input_ids"]]
    order = sorted(range(len(prompts)), key=lengths.__getitem__)
    replies: dict[int, Generated] = {}
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        inputs = tokenizer([prompts[i] for i in rows], return_tensors="pt", padding=True,
                           add_special_tokens=False).to(device)
        with torch.inference_mode():
            guard = {"logits_processor": [answer_loop_guard(inputs["input_ids"].shape[1])]} if loop_guard else {}
            stop = {"stop_strings": stop_strings, "tokenizer": tokenizer} if stop_strings else {}
            banned = {"bad_words_ids": [tokenizer(p, add_special_tokens=False).input_ids for p in avoid]} if avoid else {}
            output = model.generate(**inputs, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                    **sampling, **guard, **stop, **banned)
        for i, row in zip(rows, output[:, inputs["input_ids"].shape[1]:]):
            replies[i] = Generated(prefill + tokenizer.decode(row, skip_special_tokens=True).strip(),
                                   int((row != tokenizer.pad_token_id).sum()))
        if on_batch is not None:
            on_batch(len(rows))
    return [replies[i] for i in range(len(prompts))]


@contextmanager
def lora_merged(model) -> Iterator[None]:
    """The adapter folded into the base weights while inside, then taken out again: the same greedy
    answers (16 of 16 on the sample's RAG prompts) without LoRA's extra matrix products per layer
    (0.83× the time on 2 CPU cores). Only a float32 base is merged: a quantized or half-precision
    one would round, changing answers and drifting a little with every merge and unmerge."""
    import torch

    if getattr(model, "dtype", None) != torch.float32 or getattr(model, "is_loaded_in_4bit", False) \
            or getattr(model, "is_loaded_in_8bit", False):
        yield
        return
    model.merge_adapter()
    try:
        yield
    finally:
        model.unmerge_adapter()
