#!/usr/bin/env bash
# The FERPlus training campaign on one GPU, in one go: the recipe ablation of the default model (pcnn_mbv2,
# 64 px; one change at a time against configs/ferplus_cpu.yaml, scored on FER2013Valid), the paper's architecture
# (configs/ferplus_r18.yaml), then the default's candidates, distilled from it. Runs share the GPU.
#
#   bash scripts/train_ferplus_gpu.sh DATA_ROOT OUTPUT_DIR [SECONDS]
#
# DATA_ROOT is FERPlus as Microsoft ships it (scripts/pack_faces.py carries it to a machine whose copy is
# size-capped); SECONDS bounds the whole campaign (default 1800): runs still going then are stopped, keeping
# their last checkpoint (resume them with `pcnn-fer train --resume OUTPUT_DIR/NAME`).
set -u
data=$1 out=$2 budget=${3:-1800}
deadline=$(( $(date +%s) + budget ))
mkdir -p "$out/logs"
train() {  # NAME FLAGS...: one run in the background, its log in OUTPUT_DIR/logs
    local name=$1; shift
    local left=$(( deadline - $(date +%s) ))
    timeout --foreground --kill-after 30 --signal=TERM "$left" python3 -m pcnn_fer train --data.root "$data" --misc.output "$out" --misc.name "$name" \
        --misc.quiet true "$@" > "$out/logs/$name.log" 2>&1 &
}
base=(--config configs/ferplus_cpu.yaml --misc.threads 2 --data.workers 2 --data.eval_batch_size 512)
votes=(--data.options "{mode: probability, contempt: true}")
wild=(--augment.train wild --augment.working_size 48 --data.workers 1)

train ferplus-r18 --config configs/ferplus_r18.yaml
r18=$!
train mbv2-a0-base "${base[@]}"
train mbv2-a1-votes "${base[@]}" "${votes[@]}"
train mbv2-a2-votes-la1 "${base[@]}" "${votes[@]}" --optim.logit_adjust 1.0
train mbv2-a3-votes-la05 "${base[@]}" "${votes[@]}" --optim.logit_adjust 0.5
train mbv2-a4-votes-sampler "${base[@]}" "${votes[@]}" --data.balanced true
train mbv2-a5-votes-sqrtw "${base[@]}" "${votes[@]}" --optim.class_weighting sqrt_inverse
train mbv2-a6-votes-wild "${base[@]}" "${votes[@]}" "${wild[@]}"
train mbv2-a7-votes-ema "${base[@]}" "${votes[@]}" --ema.enabled true
train mbv2-a8-votes-30ep "${base[@]}" "${votes[@]}" --schedule.epochs 30
candidate=("${base[@]}" "${votes[@]}" "${wild[@]}" --ema.enabled true --schedule.epochs 30)
train mbv2-c1-la05 "${candidate[@]}" --optim.logit_adjust 0.5
train mbv2-c2-la1 "${candidate[@]}" --optim.logit_adjust 1.0
wait "$r18"
status=$?
echo "ferplus-r18 finished (exit $status) at $(date)"
if [ "$status" -eq 0 ] && [ $(( deadline - $(date +%s) )) -ge "${DISTILL_SECONDS:-150}" ]; then
    train mbv2-d1-la05-distill "${candidate[@]}" --optim.logit_adjust 0.5 --distill.teacher "$out/ferplus-r18"
    train mbv2-d2-la1-distill "${candidate[@]}" --optim.logit_adjust 1.0 --distill.teacher "$out/ferplus-r18"
else
    echo "distilled candidates not started: the teacher did not finish, or too little time is left"
fi
wait
echo "all runs finished at $(date)"
