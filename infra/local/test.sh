#!/usr/bin/env bash
# `make test`: installs what it needs, starts its own emulator and dev server on free ports,
# provisions from template.yaml, runs every test with cargo-nextest, fuzzes the API from its served
# OpenAPI document (infra/local/fuzz.sh, fixed seed), and stops everything it started — pass or
# fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/lib.sh
started=$(date +%s)

step "Python tools (.venv: moto, cfn-lint, schemathesis)"
bash infra/local/venv.sh

step "The patched emulator answers as stock moto does (infra/local/emulator_parity.py)"
.venv/bin/python infra/local/emulator_parity.py

step "cfn-lint template.yaml"
.venv/bin/cfn-lint template.yaml
echo "template.yaml is clean"

if ! cargo nextest --version >/dev/null 2>&1; then
  step "Installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

step "Building the workspace and its tests (dev profile; the same build as make dev)"
build_workspace

run_dir=""
cleanup() {
  local status=$?
  stop_local_stack
  if [ $status -ne 0 ] && [ -f "$run_dir/dev-server.log" ]; then
    echo "--- last lines of the dev server log ($run_dir/dev-server.log) ---"
    tail -n 30 "$run_dir/dev-server.log"
  fi
  echo "make test took $(( $(date +%s) - started )) s"
  exit $status
}
trap cleanup EXIT INT TERM

# Emulator, provisioning, payment sandbox and dev server on free ports (lib.sh). Every test
# shares 127.0.0.1, so the write counters are off (0). --seed creates the demo accounts the fuzz run
# logs in with; the tests make their own users and never look at these. Offers to shippers lapse
# after 10 s (60 s by default) so the fleet tests see time-outs.
start_local_stack test --param WriteLimitPerIp=0 --param WriteLimitPerUser=0 --param ShipmentOfferSeconds=10 -- --seed

step "The served OpenAPI document is valid OpenAPI 3.1 (openapi-spec-validator)"
curl -sf "http://127.0.0.1:$api_port/openapi.json" -o "$run_dir/openapi.json"
.venv/bin/openapi-spec-validator "$run_dir/openapi.json"

step "Tests"
set -a
source "$run_dir/stack.env"
set +a
export E2E_BASE_URL="http://127.0.0.1:$api_port"
export PAYMENT_SANDBOX_URL="http://127.0.0.1:$sandbox_port"
cargo nextest run --workspace --no-fail-fast "$@"

# After the tests, over the same server, with a fixed seed so a failure replays (make fuzz draws
# a new one each time). FUZZ=0 skips it.
if [ "${FUZZ:-1}" != 0 ]; then
  bash infra/local/fuzz.sh --base-url "http://127.0.0.1:$api_port" --seed "${FUZZ_SEED:-20261201}" --out "$run_dir/fuzz"
fi

step "The provider sandbox's reference vectors and GHTK tariff (payment_sandbox.py --self-test)"
.venv/bin/python infra/local/payment_sandbox.py --self-test

step "The dev server's log of the whole run holds no secret (infra/local/scan_logs.py)"
.venv/bin/python infra/local/scan_logs.py --self-test
.venv/bin/python infra/local/scan_logs.py "$run_dir/dev-server.log" --secrets-json "$run_dir/payment-sandbox.json"
