#!/bin/sh
# The R1 recipe at toy scale, end to end: SFT (`latent train`) and GRPO (`latent grpo`) for two
# seeds, one seed per core, then the held-out evaluation of every model (greedy and majority vote
# over 1, 4 and 16 samples). models/latent-arith.gguf is rl1.gguf of this script as it stands
# (SFT_STEPS=4000, about 40 minutes); docs/r1-accuracy.png comes from SFT_STEPS=1500
# MIXED_OPERANDS=1 EVAL_N=4000 EVAL_SEED=4. Samples are evaluated as DeepSeek-R1 reports them
# (temperature 0.6, top-p 0.95; pass@1 the mean over the samples, maj@N the majority) and at
# temperature 1 without truncation (the policy's own distribution).
# Results go to $OUT (default /tmp/latent-r1): the models, logs, and results.txt (one line per
# evaluation), which scripts/plot_r1.py turns into a figure.
set -eu
cd "$(dirname "$0")/.."
LATENT="${LATENT:-$PWD/build/latent}"
OUT="${OUT:-/tmp/latent-r1}"
SFT_STEPS="${SFT_STEPS:-4000}"
EVAL_N="${EVAL_N:-1000}"
EVAL_SEED="${EVAL_SEED:-3}"
SFT_FLAGS=""
[ "${MIXED_OPERANDS:-0}" = 1 ] && SFT_FLAGS="--mixed-operands"
mkdir -p "$OUT"
cd "$OUT"
start=$(date +%s)
for s in 1 2; do
  ( "$LATENT" train -o "sft$s.gguf" --steps "$SFT_STEPS" --warmup 50 --lr 2e-3 --seed "$s" -t 1 \
        $SFT_FLAGS --save-every 250 --eval 200 > "sft$s.out" 2> "sft$s.err"
    "$LATENT" grpo --init "sft$s.gguf" --out "rl$s.gguf" --steps 200 --prompts-per-step 16 \
        --group 8 --max-new 176 --temp 1.0 --lr 2e-5 --warmup 5 --clip 0.2 --kl-coef 0 --seed "$s" \
        -t 1 --save-every 50 --eval 0 > "rl$s.out" 2> "rl$s.err" ) &
done
wait
echo "recipe (2 seeds, one per core): $(( $(date +%s) - start )) s" | tee recipe-time.txt
: > results.txt
for sampling in "0.6 0.95" "1.0 1"; do
  set -- $sampling
  for m in sft1 rl1 sft2 rl2; do
    "$LATENT" grpo --init "$m.gguf" --eval-only --eval "$EVAL_N" --eval-seed "$EVAL_SEED" \
        --eval-votes 1,4,16 --eval-temp "$1" --eval-top-p "$2" --eval-tokens 200 -t 2 \
        2>/dev/null >> results.txt
  done
done
cat results.txt
