#!/usr/bin/env bash
# The default model's recipe, one change at a time, on a CPU: each row is a 3-epoch fine-tune of the shipped
# pcnn_mbv2_ferplus (learning rate 0.004 on a cosine, EMA in all), as in the README's "Measured on FERPlus Valid".
# Runs go one after another (side by side they would only share the same cores); name rows to run some of them.
# The last rows combine changes: class-balanced sampling with mixup, and with the shipped model as its own
# teacher (its predictions on the training faces keep the majority classes while the sampler lifts the others).
#
#   bash scripts/ablate_ferplus_cpu.sh DATA_ROOT OUTPUT_DIR [ROW ...]
#
# Each run's metrics.jsonl holds its FER2013Valid scores per epoch.
set -u
data=$1 out=$2; shift 2
all=(base votes la05 balanced-softmax sampler sqrtw wild mixup distill-r18 epochs6 sampler-mixup sampler-distill-self)
change_for() {  # ROW: the flags that make it differ from the base fine-tune
    case $1 in
        base) change=() ;;
        votes) change=(--data.options "{mode: probability, contempt: true}") ;;
        la05) change=(--optim.logit_adjust 0.5) ;;
        balanced-softmax) change=(--optim.logit_adjust 1.0) ;;
        sampler) change=(--data.balanced true) ;;
        sqrtw) change=(--optim.class_weighting sqrt_inverse) ;;
        wild) change=(--augment.train wild --augment.working_size 48 --data.workers 1) ;;
        mixup) change=(--augment.mixup 0.2) ;;
        distill-r18) change=(--distill.teacher pcnn_r18_ferplus --distill.weight 0.5) ;;
        epochs6) change=(--schedule.epochs 6) ;;
        sampler-mixup) change=(--data.balanced true --augment.mixup 0.2) ;;
        sampler-distill-self) change=(--data.balanced true --distill.teacher pcnn_mbv2_ferplus --distill.weight 0.5) ;;
        *) echo "no row named $1 (rows: ${all[*]})" >&2; exit 2 ;;
    esac
}
base=(--config configs/ferplus_cpu.yaml --model.pretrained pcnn_mbv2_ferplus --optim.lr 0.004 --schedule.epochs 3
      --schedule.warmup_epochs 0 --ema.enabled true)
order=("$@")
[ ${#order[@]} -eq 0 ] && order=("${all[@]}")
for name in "${order[@]}"; do change_for "$name"; done  # every name checked before the first run starts
mkdir -p "$out/logs"
for name in "${order[@]}"; do
    change_for "$name"
    echo "$(date -u +%FT%TZ) $name: ${change[*]}"
    python3 -m pcnn_fer train "${base[@]}" --data.root "$data" --misc.output "$out" --misc.name "ablate-$name" \
        --misc.quiet true "${change[@]}" > "$out/logs/$name.log" 2>&1 || echo "$name failed: see $out/logs/$name.log"
done
echo "$(date -u +%FT%TZ) done"
