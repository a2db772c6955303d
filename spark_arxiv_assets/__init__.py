"""spark_arxiv_assets: Dagster assets from arXiv papers to a domain-expert assistant."""
import logging

# Importing PEFT imports bitsandbytes, whose CPU backend then tries to fetch an optional kernel from
# the Hugging Face hub and logs a warning when it cannot (no `kernels` package, no network). Its
# own fallback is what runs; the warning only alarms users of commands that never quantize.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
