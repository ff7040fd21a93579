# Model-based test: seeded random batches of operations on ConfigMaps,
# Secrets and every workload kind with every annotation form (plus restarts
# and leader kills), checked at each quiescent point against a reference
# model of which workloads must roll (e2e/model/). A failing seed is shrunk
# to the shortest operation list that still fails.
#
# In `make test` it replays fixed seeds (about 170 operations: both
# strategies, --reload-on-create/--reload-on-delete, --sync-after-restart
# restarts, three replicas with leader kills), so that CI judges reloadd, not
# the luck of a draw; `make soak` (e2e/model/soak.sh) explores new seeds for
# as long as asked. E2E_MODEL_SEED=N runs seeds N, N+1, ... here instead, for
# E2E_MODEL_SECONDS (300).
e2e_needs replicas signals audit-log
if [ -n "${E2E_MODEL_SEED:-}" ]; then
    e2e_log "model-based test for ${E2E_MODEL_SECONDS:-300} s from seed $E2E_MODEL_SEED"
    seeds=(--seconds "${E2E_MODEL_SECONDS:-300}")
else
    e2e_log "model-based test: seeds 236543 (annotations), 883221 (env-vars, create, delete, restarts), 236544 (HA, leader kills)"
    seeds=(--seed 236543 --seed 883221 --seed 236544)
fi
model=$(dirname "${BASH_SOURCE[0]}")/../model
python3 "$model/run.py" --binary "$RELOADD_BIN" --out "$E2E_DIR" "${seeds[@]}"
# The shrunk cases that soaks found, kept as regressions (a few seconds each).
if [ -z "${E2E_MODEL_SEED:-}" ]; then
    for spec in "$model"/regressions/*.json; do
        e2e_log "regression $(basename "$spec" .json)"
        python3 "$model/run.py" --binary "$RELOADD_BIN" --out "$E2E_DIR" --replay "$spec" --no-shrink
    done
fi
