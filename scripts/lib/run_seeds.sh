#!/usr/bin/env bash
# Shared body of every scripts/<trainer>/main.sh: runs seeds 1 2 3 of TRAINER on DATASET with SHOTS shots,
# CoOp-style output folders, skip-if-finished, clean rerun of unfinished seeds, aggregate at the end.
#
# Usage (from a main.sh): run_seeds TRAINER DATASET SHOTS [KEY VALUE ...]
# Environment: DATA (default ./data), OUTPUT (default ./output), CFG (trainer config, default rn50),
#              SEEDS (default "1 2 3"), PYTHON (default python), TAG (a sub-folder for runs whose KEY VALUE
#              settings differ, e.g. TAG=nctx4_cscTrue; without it such runs share a folder and a finished
#              seed is skipped whatever its settings).
set -euo pipefail

run_seeds() {
    if [ $# -lt 3 ]; then
        echo "usage: $(basename "$0") DATASET SHOTS [KEY VALUE ...]" >&2
        exit 2
    fi
    local trainer=$1 dataset=$2 shots=$3
    shift 3
    local repo_root
    repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    # DATA and OUTPUT are taken relative to where the user stands, then the script runs from the repo root.
    local data output
    data=$(realpath -m "${DATA:-./data}")
    output=$(realpath -m "${OUTPUT:-./output}")
    local cfg=${CFG:-rn50}
    local python=${PYTHON:-python}
    cd "$repo_root"

    local dataset_cfg=configs/datasets/${dataset}.yaml trainer_cfg=configs/trainers/${trainer}/${cfg}.yaml
    if [ ! -f "$dataset_cfg" ]; then
        echo "error: unknown dataset '${dataset}': no ${dataset_cfg}; use one of: $(ls configs/datasets | sed 's/\.yaml$//' | tr '\n' ' ')" >&2
        exit 2
    fi
    if [ ! -f "$trainer_cfg" ]; then
        echo "error: no trainer config ${trainer_cfg}; set CFG to one of: $(ls "configs/trainers/${trainer}" | sed 's/\.yaml$//' | tr '\n' ' ')" >&2
        exit 2
    fi
    if (( $# % 2 )); then
        echo "error: extra arguments must come in KEY VALUE pairs, got: $*" >&2
        exit 2
    fi

    local runs_dir=${output}/${dataset}/${trainer}/${cfg}_${shots}shots${TAG:+/${TAG}}
    local seed dir
    for seed in ${SEEDS:-1 2 3}; do
        dir=${runs_dir}/seed${seed}
        if [ -f "${dir}/results.json" ]; then
            echo "The results exist at ${dir} (so skip this job)"
            continue
        fi
        if [ -d "$dir" ]; then
            # No results.json: the run did not finish. Start it again from nothing rather than resume a
            # half-written state.
            echo "Unfinished run at ${dir}: running it again"
            rm -rf "$dir"
        fi
        "$python" train.py --root "$data" --seed "$seed" --trainer "$trainer" \
            --dataset-config-file "$dataset_cfg" --config-file "$trainer_cfg" \
            --output-dir "$dir" DATASET.NUM_SHOTS "$shots" "$@"
    done
    "$python" -m safe_clip.results "$runs_dir" --format plain
}
