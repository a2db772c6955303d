"""The README's demo, end to end: every asset on the bundled sample with the real offline
models (SmolLM2 teacher and student), then the produced adapter is loaded and generates."""
import pytest


@pytest.mark.slow
def test_whole_graph_on_the_sample_then_load_the_adapter(data_dir, tmp_path, monkeypatch):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from spark_arxiv_assets.cli import main
    from spark_arxiv_assets.resources.causal_lm import resolve_causal_lm

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))  # created by the demo; runs recorded there
    assert main(["demo"]) == 0
    assert (tmp_path / "dagster_home").is_dir()
    current = data_dir / "models" / "final_adapter" / "current"

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(resolve_causal_lm("SmolLM2-135M-Instruct")),
                                      str(current))
    tokenizer = AutoTokenizer.from_pretrained(str(current))
    inputs = tokenizer.apply_chat_template([{"role": "user", "content": "What is reciprocal rank fusion?"}],
                                           add_generation_prompt=True, return_tensors="pt", return_dict=True)
    output = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    assert tokenizer.decode(output[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()
    assert (data_dir / "evaluation" / "summary.json").exists()
    assert (data_dir / "synthetic_arxiv_qa_dataset.json").exists()
