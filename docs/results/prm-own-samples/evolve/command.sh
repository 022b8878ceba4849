#!/bin/bash
# docs/results/prm-own-samples/evolve: the one-command form on a second student. Round 0 of evolve grows the
# preset's symbolic trees for 2,500 training problems, trains the shortcut student, lets it answer every
# training problem 16 times, trains the scorer from the student on those answers (evolve.prm_base=round,
# prm.data=samples), and evaluates the student with the scorer at N = 1, 4, 8, 16 on the same 500 held-out
# problems as the study. As run on 2026-12-07, beside a clean-clone CI run (17.6 min wall).
export ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
nice -n 15 .venv/bin/journeyforge evolve experiment=cpu_lab task.n_train=2500 name=evoprm workdir=/tmp/pe/out \
  store.url=sqlite:////tmp/pe/evo.db linearize.kinds=[shortcut] linearize.train_kinds=[shortcut] evolve.rounds=1 \
  evolve.prm=true evolve.prm_base=round prm.data=samples prm.samples=16 prm.lora=false prm.max_steps=1000 \
  prm.batch_size=32 prm.learning_rate=1.0e-3 prm.max_length=128 eval.max_tokens=200 'eval.scaling=[1,4,8,16]' \
  export.prm_placeholder=none
# paired.txt and check_evals.txt
.venv/bin/python docs/results/prm-own-steps/paired.py /tmp/pe/evo.db evoprm/round-0 /tmp/pe/out/evolve/round-0/prm
.venv/bin/python docs/results/experiment-cpu-lab/check_evals.py /tmp/pe/evo.db
