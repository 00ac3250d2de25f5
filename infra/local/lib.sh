# Shared shell helpers for the local scripts (sourced, not run).
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
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
    --param "VnpayApiUrl=$s/vnpay/merchant_webapi/api/transaction" --param "MomoApiUrl=$s/momo" \
    --param "PublicApiUrl=http://127.0.0.1:$2"
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
