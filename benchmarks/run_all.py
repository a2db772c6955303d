"""`make bench`: every benchmark, each writing its section of benchmarks/RESULTS.md. (The frozen test
part of the hand-written answer questions is not here: it is run once, by hand, with `--test`.)"""
from . import (ann_recall, answer_decoding, answer_evidence, answer_prompts, cpu_lora_vs_qlora, extraction_isolation,
               extraction_profile, extraction_quality, followups, ocr_recall,
               partitions_incremental, retrieval_quality, scale_out, spark_throughput, stage_usage, teacher_batching,
               teacher_yield, training_throughput)

BENCHMARKS = [extraction_isolation, spark_throughput, scale_out, partitions_incremental, ocr_recall, extraction_quality,
              extraction_profile,
              retrieval_quality,
              ann_recall, teacher_batching, teacher_yield, answer_decoding, answer_prompts, answer_evidence,
              followups, cpu_lora_vs_qlora, training_throughput,
              stage_usage]

if __name__ == "__main__":
    for bench in BENCHMARKS:
        print(f"\n=== {bench.__name__}")
        bench.main()
