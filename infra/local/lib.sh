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
