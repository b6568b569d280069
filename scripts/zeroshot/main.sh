#!/usr/bin/env bash
# Zero-shot CLIP on DATASET's test split (no training, no seeds).
# Usage: bash scripts/zeroshot/main.sh DATASET [KEY VALUE ...]   (e.g. bash scripts/zeroshot/main.sh eurosat)
# Environment: DATA (./data), OUTPUT (./output), CFG (rn50: configs/trainers/ZeroshotCLIP/rn50.yaml).
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: $(basename "$0") DATASET [KEY VALUE ...]" >&2
    exit 2
fi
dataset=$1
shift
data=$(realpath -m "${DATA:-./data}")
output=$(realpath -m "${OUTPUT:-./output}")
cfg=${CFG:-rn50}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [ ! -f "configs/datasets/${dataset}.yaml" ]; then
    echo "error: unknown dataset '${dataset}': no configs/datasets/${dataset}.yaml" >&2
    exit 2
fi
"${PYTHON:-python}" train.py --root "$data" --trainer ZeroshotCLIP \
    --dataset-config-file "configs/datasets/${dataset}.yaml" \
    --config-file "configs/trainers/ZeroshotCLIP/${cfg}.yaml" \
    --output-dir "${output}/${dataset}/ZeroshotCLIP/${cfg}" --eval-only "$@"
