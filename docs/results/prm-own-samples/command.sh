#!/bin/bash
# docs/results/prm-own-samples: a step scorer trained on the student's own sampled answers (prm.data=samples),
# against majority vote and against the scorer of the symbolic search's trees, on the same 8,000 sampled answers.
# Exactly as run on 2026-12-07 (2 cores, one thread per process; the k=16 and k=64 chains ran side by side, the
# sym chain beside k=64's training and both evals).
export ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
J="nice -n 10 .venv/bin/journeyforge"
STORE=sqlite:////tmp/pm/prm.db
# 1. the student: the cpu_lab preset's shortcut student on 2,500 training problems, seed 0 (196 s)
.venv/bin/journeyforge experiment experiment=cpu_lab 'experiment.select=[shortcut]' 'experiment.seeds=[0]' \
  task.n_train=2500 name=base workdir=/tmp/pm/base store.url=$STORE
STUDENT=/tmp/pm/base/models/shortcut-s0
C="experiment=cpu_lab task.n_train=2500 store.url=$STORE linearize.kinds=[shortcut] linearize.train_kinds=[shortcut]"
P="prm.data=samples prm.model=$STUDENT prm.lora=false prm.batch_size=32 prm.learning_rate=1.0e-3 prm.max_length=128 eval.max_tokens=200"
E="eval.n_problems=500 eval.include_base=false eval.scaling=[1,4,8,16] eval.max_tokens=200"
# 2. the scorers of the student's own answers: 16 and 64 answers per training problem (temperature 0.8, eval's)
$J prm $C name=samples16 workdir=/tmp/pm/samples16 $P prm.samples=16 prm.max_steps=1000
$J prm $C name=samples64 workdir=/tmp/pm/samples64 $P prm.samples=64 prm.max_steps=2000
# 3. the scorer of the symbolic search's trees (exact oracle labels), from the same student
S="experiment=cpu_lab task.n_train=2500 name=sym workdir=/tmp/pm/sym store.url=$STORE linearize.kinds=[shortcut] linearize.train_kinds=[shortcut] export.prm_placeholder=none"
$J explore $S && $J linearize $S && $J export $S
$J prm $S prm.model=$STUDENT prm.lora=false prm.max_steps=1000 prm.batch_size=32 prm.learning_rate=1.0e-3 prm.max_length=128
# 4. one eval per scorer: the student where eval finds it; the three runs sample the same 8,000 answers
for w in samples16 samples64 sym; do mkdir -p /tmp/pm/$w/models && cp -r $STUDENT /tmp/pm/$w/models/shortcut; done
$J eval $C name=samples16 workdir=/tmp/pm/samples16 $E eval.prm=/tmp/pm/samples16/prm
$J eval $C name=samples64 workdir=/tmp/pm/samples64 $E eval.prm=/tmp/pm/samples64/prm
$J eval $S $E eval.prm=/tmp/pm/sym/prm
# 5. the checks and the paired comparison (paired.txt, faithful.txt, check_evals.txt)
.venv/bin/python docs/results/prm-own-steps/paired.py /tmp/pm/prm.db samples16 /tmp/pm/samples16/prm \
  samples64 /tmp/pm/samples64/prm sym /tmp/pm/sym/prm
for r in "samples16 eval" "samples16 prm_sample" "samples64 prm_sample"; do
  .venv/bin/python docs/results/prm-own-samples/faithful.py /tmp/pm/prm.db $r; done
.venv/bin/python docs/results/experiment-cpu-lab/check_evals.py /tmp/pm/prm.db
# 6. (added after the first results) second seeds of the k=16 scorer, run side by side beside a CI run:
#    prm.seed=1 on the same answers (samples16t1), and answers drawn with eval.seed=1 (samples16d1)
P16="$P prm.samples=16 prm.max_steps=1000"
$J prm $C name=samples16t1 workdir=/tmp/pm/samples16t1 $P16 prm.seed=1
$J prm $C name=samples16d1 workdir=/tmp/pm/samples16d1 $P16 eval.seed=1
for w in samples16t1 samples16d1; do mkdir -p /tmp/pm/$w/models && cp -r $STUDENT /tmp/pm/$w/models/shortcut
  $J eval $C name=$w workdir=/tmp/pm/$w $E eval.seed=0 eval.prm=/tmp/pm/$w/prm; done
.venv/bin/python docs/results/prm-own-steps/paired.py /tmp/pm/prm.db samples16 /tmp/pm/samples16/prm \
  samples16t1 /tmp/pm/samples16t1/prm samples16d1 /tmp/pm/samples16d1/prm          # paired-seeds.txt
.venv/bin/python docs/results/prm-own-samples/pooled.py /tmp/pm/prm.db samples16 /tmp/pm/samples16/prm \
  /tmp/pm/samples16t1/prm /tmp/pm/samples16d1/prm                                  # pooled.txt
