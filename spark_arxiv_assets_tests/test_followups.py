"""A follow-up question is read after the one before it; a question that stands alone is not."""
from spark_arxiv_assets.core.followups import in_context, refers_back


def test_a_question_that_refers_back_is_read_after_the_previous_one():
    earlier = ["What learning rate was used in the Crawler's PPO training?"]
    assert in_context("And how many total steps did it run?", earlier) == \
        "What learning rate was used in the Crawler's PPO training? And how many total steps did it run?"
    assert in_context("What about  its   batch size?", earlier).endswith("What about its batch size?")
    assert in_context("Which program inferred the phylogeny?", earlier) == "Which program inferred the phylogeny?"
    assert in_context("And how many steps did it run?", []) == "And how many steps did it run?"  # nothing before
    assert refers_back("Which ones should rarely be included?") and not refers_back("Iteration counts of PPO?")
