#!/usr/bin/env bash
# Tip-Adapter-F: seeds 1 2 3 on DATASET with SHOTS shots per class.
# Usage: bash scripts/tip_adapter_f/main.sh DATASET SHOTS [KEY VALUE ...]
#   e.g. bash scripts/tip_adapter_f/main.sh eurosat 16
# Environment: DATA (./data), OUTPUT (./output), CFG (rn50), SEEDS ("1 2 3").
source "$(dirname "${BASH_SOURCE[0]}")/../lib/run_seeds.sh"
run_seeds TipAdapterF "$@"
