# Model-based test: seeded random batches of operations on ConfigMaps,
# Secrets and every workload kind with every annotation form (plus restarts
# and leader kills), checked at each quiescent point against a reference
# model of which workloads must roll (e2e/model/). A failing seed is shrunk
# to the shortest operation list that still fails. E2E_MODEL_SECONDS (300)
# bounds the runs; E2E_MODEL_SEED fixes the first seed.
e2e_log "model-based test for ${E2E_MODEL_SECONDS:-300} s"
python3 "$(dirname "${BASH_SOURCE[0]}")/../model/run.py" --binary "$RELOADD_BIN" --out "$E2E_DIR" \
    --seconds "${E2E_MODEL_SECONDS:-300}"
