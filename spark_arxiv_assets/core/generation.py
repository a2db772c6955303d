"""Batched chat generation with left padding: shared by the local teacher and the evaluation."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Generated:
    text: str
    new_tokens: int


def generate_chat(model, tokenizer, conversations: list[list[dict]], batch_size: int = 8, max_new_tokens: int = 128,
                  temperature: float = 0.0, prefill: str = "") -> list[Generated]:
    """Continues each conversation as the assistant; `prefill` starts every reply."""
    import torch

    tokenizer.padding_side = "left"  # every row then continues from its own last token
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    device = next(model.parameters()).device
    sampling = {"do_sample": True, "temperature": temperature, "top_p": 0.95} if temperature > 0 else {"do_sample": False}
    out: list[Generated] = []
    for start in range(0, len(conversations), batch_size):
        prompts = [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) + prefill
                   for c in conversations[start:start + batch_size]]
        inputs = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        with torch.inference_mode():
            output = model.generate(**inputs, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                    **sampling)
        for row in output[:, inputs["input_ids"].shape[1]:]:
            out.append(Generated(prefill + tokenizer.decode(row, skip_special_tokens=True).strip(),
                                 int((row != tokenizer.pad_token_id).sum())))
    return out
