#!/usr/bin/env bash
# `make test`: installs what it needs, starts its own emulator and dev server on free ports,
# provisions from template.yaml, runs every test with cargo-nextest, and stops everything it
# started — pass or fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/lib.sh
started=$(date +%s)

step "Python tools (.venv: moto, cfn-lint)"
bash infra/local/venv.sh

step "cfn-lint template.yaml"
.venv/bin/cfn-lint template.yaml
echo "template.yaml is clean"

if ! cargo nextest --version >/dev/null 2>&1; then
  step "Installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

step "Building the workspace and its tests (dev profile)"
cargo build --workspace --bins --tests

export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test} AWS_REGION=${AWS_REGION:-us-east-1}
emulator_port=$(bash infra/local/emulator.sh free-port)
run_dir=.local/test-$emulator_port
mkdir -p "$run_dir"
server_pid=""
sandbox_pid=""
cleanup() {
  local status=$?
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null && wait "$sandbox_pid" 2>/dev/null || true
  bash infra/local/emulator.sh stop "$emulator_port" || true
  if [ $status -ne 0 ] && [ -f "$run_dir/dev-server.log" ]; then
    echo "--- last lines of the dev server log ($run_dir/dev-server.log) ---"
    tail -n 30 "$run_dir/dev-server.log"
  fi
  echo "make test took $(( $(date +%s) - started )) s"
  exit $status
}
trap cleanup EXIT INT TERM

step "Emulator on 127.0.0.1:$emulator_port"
bash infra/local/emulator.sh start "$emulator_port"

api_port=$(bash infra/local/emulator.sh free-port)
sandbox_port=$(bash infra/local/emulator.sh free-port)
step "Provisioning from template.yaml"
# shellcheck disable=SC2046
.venv/bin/python infra/local/provision.py --endpoint "http://127.0.0.1:$emulator_port" --stack "test$emulator_port" \
  --out "$run_dir/stack.json" $(payment_params "$sandbox_port" "$api_port") \
  --param WriteLimitPerIp=1000000 --param WriteLimitPerUser=1000000  # every test shares 127.0.0.1

step "Payment sandbox on 127.0.0.1:$sandbox_port"
start_sandbox "$sandbox_port" "$api_port" "$run_dir/stack.json" "$run_dir/payment-sandbox"

step "Dev server on 127.0.0.1:$api_port"
target/debug/dev-server --stack "$run_dir/stack.json" --port "$api_port" >"$run_dir/dev-server.log" 2>&1 &
server_pid=$!
wait_http "http://127.0.0.1:$api_port/health" 60 "$run_dir/dev-server.log"

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

step "The dev server's log of the whole run holds no secret (infra/local/scan_logs.py)"
.venv/bin/python infra/local/scan_logs.py --self-test
.venv/bin/python infra/local/scan_logs.py "$run_dir/dev-server.log" --secrets-json "$run_dir/payment-sandbox.json"
