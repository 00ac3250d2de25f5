#!/usr/bin/env bash
# The local AWS emulator: moto's server from the project venv (infra/local/moto_server.py, which
# is moto_server with DynamoDB calls serialised), listening on 127.0.0.1 only.
#   emulator.sh start [port]    start in the background and wait until healthy (≤ 30 s); a no-op
#                               when one already runs on that port. Log .local/moto-PORT.log,
#                               pid .local/moto-PORT.pid
#   emulator.sh stop [port]     stop the one this script started on that port (and wait for it)
#   emulator.sh status [port]   say whether one answers on that port
#   emulator.sh free-port       print a free TCP port on 127.0.0.1
# The port defaults to 4566 (LocalStack's, so AWS_ENDPOINT_URL=http://localhost:4566 fits both).
set -euo pipefail
cd "$(dirname "$0")/../.."
# moto accepts any credentials, but the SDKs insist on some: never let a real profile leak in.
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_REGION=${AWS_REGION:-us-east-1}

cmd=${1:-}
port=${2:-4566}
if [ "$cmd" != free-port ] && ! [[ "$port" =~ ^[0-9]+$ ]]; then
  echo "emulator.sh: port must be a number, got '$port'" >&2
  exit 2
fi
pid_file=.local/moto-$port.pid
log_file=.local/moto-$port.log
health_url=http://127.0.0.1:$port/moto-api/data.json
START_TIMEOUT=${EMULATOR_START_TIMEOUT:-30}

healthy() { python3 - "$health_url" <<'PY' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
}
port_busy() { python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(1); sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$port"; }
# The pid in the pid file, if that process is alive and is our emulator (pids get reused).
our_pid() {
  local pid
  [ -f "$pid_file" ] || return 1
  pid=$(cat "$pid_file" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "moto_server" || return 1
  echo "$pid"
}
wait_healthy() {
  local pid=$1 deadline=$((SECONDS + START_TIMEOUT))
  while [ $SECONDS -lt $deadline ]; do
    if healthy; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

case "$cmd" in
  start)
    mkdir -p .local
    if pid=$(our_pid); then
      if wait_healthy "$pid"; then
        echo "emulator already running on http://127.0.0.1:$port (pid $pid)"
        exit 0
      fi
      echo "emulator pid $pid on port $port does not answer; restarting it" >&2
      kill "$pid" 2>/dev/null || true
      sleep 1
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pid_file"
    if port_busy; then
      if healthy; then
        echo "an emulator not started by this script already answers on http://127.0.0.1:$port; using it"
        exit 0
      fi
      echo "emulator.sh: port $port on 127.0.0.1 is taken by another program; pick another (emulator.sh free-port)" >&2
      exit 1
    fi
    bash infra/local/venv.sh
    echo "starting the emulator (moto) on http://127.0.0.1:$port, log $log_file"
    nohup .venv/bin/python infra/local/moto_server.py -H 127.0.0.1 -p "$port" >"$log_file" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$pid_file"
    if wait_healthy "$pid"; then
      echo "emulator ready on http://127.0.0.1:$port (pid $pid)"
      exit 0
    fi
    if kill -0 "$pid" 2>/dev/null; then
      echo "emulator.sh: the emulator did not answer $health_url within ${START_TIMEOUT}s; stopping it" >&2
      kill "$pid" 2>/dev/null || true
    else
      echo "emulator.sh: the emulator exited during start-up" >&2
    fi
    rm -f "$pid_file"
    echo "--- last lines of $log_file ---" >&2
    [ -f "$log_file" ] && tail -n 30 "$log_file" >&2
    exit 1
    ;;
  stop)
    if ! pid=$(our_pid); then
      rm -f "$pid_file"
      echo "no emulator started by this script runs on port $port"
      exit 0
    fi
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null || true
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pid_file"
    echo "emulator on port $port stopped (pid $pid)"
    ;;
  status)
    if healthy; then
      if pid=$(our_pid); then echo "emulator running on http://127.0.0.1:$port (pid $pid)"
      else echo "an emulator not started by this script answers on http://127.0.0.1:$port"; fi
    else
      echo "no emulator answers on port $port"
      exit 1
    fi
    ;;
  free-port)
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    ;;
  *)
    echo "usage: $0 start [port] | stop [port] | status [port] | free-port" >&2
    exit 2
    ;;
esac
