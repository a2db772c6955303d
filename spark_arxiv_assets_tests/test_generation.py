"""Batched chat generation with the real SmolLM2-135M-Instruct: batches are formed by prompt length,
and every reply still comes back in its conversation's place."""
from spark_arxiv_assets.core.generation import generate_chat

LONG_PASSAGE = ("Hybrid retrieval merges a dense ranking from sentence embeddings with a BM25 ranking; "
                "reciprocal rank fusion with k = 60 re-ranks the union of both lists. ") * 6


def test_replies_come_back_in_conversation_order_whatever_the_batching():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from spark_arxiv_assets.core.causal_lm import resolve_causal_lm

    path = resolve_causal_lm("SmolLM2-135M-Instruct")
    model, tokenizer = AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    conversations = [[{"role": "user", "content": "Name a colour."}],
                     [{"role": "user", "content": f"{LONG_PASSAGE}\nWhat value of k does the fusion use?"}],
                     [{"role": "user", "content": "What is 2 + 2?"}]]
    alone = [generate_chat(model, tokenizer, [c], batch_size=1, max_new_tokens=12)[0] for c in conversations]
    finished = []
    batched = generate_chat(model, tokenizer, conversations, batch_size=2, max_new_tokens=12, on_batch=finished.append)
    assert finished == [2, 1]  # each batch reports its replies as it ends: what the evaluation's progress counts
    assert [g.text for g in batched] == [g.text for g in alone]
    assert len({g.text for g in alone}) == 3  # three different replies, so a mix-up would show


def test_a_merged_adapter_answers_as_the_unmerged_one_and_leaves_the_base_as_it_was(tiny_model_dir):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from spark_arxiv_assets.core.generation import lora_merged

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False, task_type="CAUSAL_LM"))
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    conversations = [[{"role": "user", "content": f"{LONG_PASSAGE}\nWhat value of k?"}],
                     [{"role": "user", "content": "What is 2 + 2?"}]]
    base_weights = {k: v.clone() for k, v in model.get_base_model().state_dict().items() if "lora_" not in k}
    with model.disable_adapter():
        base = [g.text for g in generate_chat(model, tokenizer, conversations, max_new_tokens=16)]
    unmerged = [g.text for g in generate_chat(model, tokenizer, conversations, max_new_tokens=16)]
    with lora_merged(model):
        merged = [g.text for g in generate_chat(model, tokenizer, conversations, max_new_tokens=16)]
    assert merged == unmerged != base  # the adapter changes answers, merging does not
    after = model.get_base_model().state_dict()
    assert all(torch.allclose(after[k], w, atol=1e-6) for k, w in base_weights.items())


def test_a_half_precision_base_is_never_merged(tiny_model_dir):
    """bf16 would round the merged weights, and each merge and unmerge would drift them further."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from spark_arxiv_assets.core.generation import lora_merged

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.bfloat16),
                           LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False, task_type="CAUSAL_LM"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with lora_merged(model):
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
