#!/usr/bin/env bash
# CoOp: seeds 1 2 3 on DATASET with SHOTS shots per class; CoOp's options go in as KEY VALUE pairs.
# Usage: bash scripts/coop/main.sh DATASET SHOTS [KEY VALUE ...]
#   e.g. bash scripts/coop/main.sh eurosat 16 TRAINER.COOP.N_CTX 16 TRAINER.COOP.CSC False \
#        TRAINER.COOP.CLASS_TOKEN_POSITION end
# Environment: DATA (./data), OUTPUT (./output), SEEDS ("1 2 3"), TAG (a sub-folder per option set, e.g. nctx16_cscFalse_ctpend),
#              CFG (rn50 = configs/trainers/CoOp/rn50.yaml; rn50_ep50, rn50_ep100, rn50_ctxv1, ...).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/run_seeds.sh"
run_seeds CoOp "$@"
