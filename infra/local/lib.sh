# Shared shell helpers for the local scripts (sourced, not run).
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
# The one dev-profile build that `make test` and `make dev` share. The same packages and targets
# mean the same resolved features, so whichever command runs second rebuilds nothing (building
# only the dev server resolved the SDK crates' features differently and rebuilt them and every
# function crate).
build_workspace() { cargo build --workspace --bins --tests "$@"; }
# Waits until an HTTP URL answers 200, or fails after $2 seconds showing log $3.
wait_http() {
  local url=$1 timeout=$2 log=${3:-} i
  for ((i = 0; i < timeout * 5; i++)); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$url" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "timed out waiting for $url" >&2
  [ -n "$log" ] && [ -f "$log" ] && tail -n 40 "$log" >&2
  return 1
}
# Template parameters that point the payment adapters at the local payment sandbox on port $1,
# and the providers' per-payment webhook URLs at the API on port $2 (for provision.py).
payment_params() {
  local s="http://127.0.0.1:$1"
  echo --param "StripeApiUrl=$s/stripe" --param "StripeConfirmUrl=$s/stripe/pay" \
    --param "PaypalApiUrl=$s/paypal" --param "VnpayPayUrl=$s/vnpay/paymentv2/vpcpay.html" \
    --param "VnpayApiUrl=$s/vnpay/merchant_webapi/api/transaction" --param "MomoApiUrl=$s/momo" --param "GhtkApiUrl=$s/ghtk" \
    --param "PublicApiUrl=http://127.0.0.1:$2"
}
# Template parameters naming the SNS platform applications of push (iOS, Android, web) in the
# emulator at $1, created there first if missing, named after stack $2 (infra/local/push_apps.py:
# CloudFormation cannot create them, so in AWS ops pass their ARNs the same way).
push_params() {
  .venv/bin/python infra/local/push_apps.py --endpoint "$1" --stack "$2"
}
# Starts the payment sandbox on port $1 posting webhooks to the API on port $2, with the secrets
# of stack file $3 (written to $4.json), logging to $4.log; sets sandbox_pid.
start_sandbox() {
  local port=$1 api_port=$2 stack=$3 base=$4
  .venv/bin/python infra/local/payment_secrets.py --stack "$stack" --out "$base.json"
  .venv/bin/python infra/local/payment_sandbox.py --port "$port" --webhook-base "http://127.0.0.1:$api_port" \
    --secrets "$base.json" >"$base.log" 2>&1 &
  sandbox_pid=$!
  wait_http "http://127.0.0.1:$port/health" 30 "$base.log"
}
# Starts the local OpenSearch-compatible server (osmem-server, pinned in the venv; in memory,
# nothing kept between runs) on 127.0.0.1:$1, logging to $2; it exits with this shell. Sets
# search_pid and search_url. SEARCH_CPUS (a taskset CPU list) keeps it on those CPUs.
start_search() {
  local port=$1 log=$2 bin
  local -a wrap=()
  bin=$(.venv/bin/python -c 'import osmem_server; print(osmem_server.resolve_binary())')
  [ -n "${SEARCH_CPUS:-}" ] && wrap=(taskset -c "$SEARCH_CPUS")
  "${wrap[@]}" "$bin" -addr "127.0.0.1:$port" -no-stdin-watch -parent-pid $$ >"$log" 2>&1 &
  search_pid=$!
  search_url="http://127.0.0.1:$port"
  wait_http "$search_url/" 30 "$log"
}
# A private copy of the system on free ports, as `make test` and `make fuzz` need it: the emulator,
# its provisioning from template.yaml (stack "$1<emulator port>"; arguments after $1 up to `--` go
# to provision.py, e.g. --param K=V), the payment sandbox and the dev server (arguments after `--`,
# e.g. --seed; DEV_SERVER_BIN picks another build of it). Files in .local/$1-<emulator port>/. Sets emulator_port, api_port, sandbox_port,
# search_port, search_url, run_dir, server_pid, sandbox_pid and search_pid; stop_local_stack stops what it started (call it from the
# caller's EXIT trap).
start_local_stack() {
  local prefix=$1 provision_args=() server_args=()
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do provision_args+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  server_args=("$@")
  export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test} AWS_REGION=${AWS_REGION:-us-east-1}
  emulator_port=$(bash infra/local/emulator.sh free-port)
  run_dir=.local/$prefix-$emulator_port
  mkdir -p "$run_dir"
  step "Emulator on 127.0.0.1:$emulator_port"
  bash infra/local/emulator.sh start "$emulator_port"

  api_port=$(bash infra/local/emulator.sh free-port)
  sandbox_port=$(bash infra/local/emulator.sh free-port)
  search_port=$(bash infra/local/emulator.sh free-port)
  step "Search server (osmem) on 127.0.0.1:$search_port"
  start_search "$search_port" "$run_dir/search.log"
  step "Provisioning from template.yaml"
  # shellcheck disable=SC2046
  .venv/bin/python infra/local/provision.py --endpoint "http://127.0.0.1:$emulator_port" --stack "$prefix$emulator_port" \
    --out "$run_dir/stack.json" $(payment_params "$sandbox_port" "$api_port") --param "SearchEndpoint=$search_url" \
    $(push_params "http://127.0.0.1:$emulator_port" "$prefix$emulator_port") "${provision_args[@]}"

  step "Payment sandbox on 127.0.0.1:$sandbox_port"
  start_sandbox "$sandbox_port" "$api_port" "$run_dir/stack.json" "$run_dir/payment-sandbox"

  step "Dev server on 127.0.0.1:$api_port${server_args[*]:+ (${server_args[*]})}"
  "${DEV_SERVER_BIN:-target/debug/dev-server}" --stack "$run_dir/stack.json" --port "$api_port" "${server_args[@]}" >"$run_dir/dev-server.log" 2>&1 &
  server_pid=$!
  wait_http "http://127.0.0.1:$api_port/health" 60 "$run_dir/dev-server.log"
}
# Stops what start_local_stack started (whatever part of it did start).
stop_local_stack() {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [ -n "${sandbox_pid:-}" ] && kill "$sandbox_pid" 2>/dev/null && wait "$sandbox_pid" 2>/dev/null || true
  [ -n "${search_pid:-}" ] && kill "$search_pid" 2>/dev/null && wait "$search_pid" 2>/dev/null || true
  [ -n "${emulator_port:-}" ] && bash infra/local/emulator.sh stop "$emulator_port" || true
  server_pid="" sandbox_pid="" search_pid="" emulator_port=""
}
