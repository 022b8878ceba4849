"""Math word problems and competition math (GSM8K, MATH / MATH-500, any JSONL/Parquet with a
question and an answer): free-text steps, `\\boxed{}` answers checked by math-verify in
time-limited worker processes. The bundled data files are in `data/` (see `data/SOURCES.md`)."""
