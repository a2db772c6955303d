"""What the slow tests ask of a produced adapter: a user can load it with plain PEFT and it answers."""
from pathlib import Path


def assert_adapter_generates(adapter_dir: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from spark_arxiv_assets.core.causal_lm import resolve_causal_lm

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(resolve_causal_lm("SmolLM2-135M-Instruct")),
                                      str(adapter_dir))
    tokenizer = AutoTokenizer.from_pretrained(str(adapter_dir))
    inputs = tokenizer.apply_chat_template([{"role": "user", "content": "What is reciprocal rank fusion?"}],
                                           add_generation_prompt=True, return_tensors="pt", return_dict=True)
    output = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    assert tokenizer.decode(output[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()
