#!/usr/bin/env bash
# The local AWS emulator (moto server from the project venv) on 127.0.0.1.
#   emulator.sh start [port]   start in the background (pid + log under .local/), wait until healthy
#   emulator.sh stop [port]    stop the one started on that port
#   emulator.sh free-port      print a free TCP port on 127.0.0.1
set -euo pipefail
cd "$(dirname "$0")/../.."
cmd=${1:-}
port=${2:-4566}
mkdir -p .local
pid_file=.local/moto-$port.pid
log_file=.local/moto-$port.log

healthy() { python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/data.json', timeout=2)" 2>/dev/null; }

case "$cmd" in
  start)
    if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null && healthy; then
      echo "emulator already running on 127.0.0.1:$port (pid $(cat "$pid_file"))"
      exit 0
    fi
    [ -x .venv/bin/python ] || bash infra/local/venv.sh
    # moto with its DynamoDB actions serialised: see infra/local/moto_server.py for why.
    nohup .venv/bin/python infra/local/moto_server.py -H 127.0.0.1 -p "$port" >"$log_file" 2>&1 &
    echo $! >"$pid_file"
    for _ in $(seq 1 150); do
      if healthy; then
        echo "emulator ready on http://127.0.0.1:$port (pid $(cat "$pid_file"), log $log_file)"
        exit 0
      fi
      if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then break; fi
      sleep 0.2
    done
    echo "the emulator did not become healthy on port $port; last lines of $log_file:" >&2
    tail -n 30 "$log_file" >&2 || true
    exit 1
    ;;
  stop)
    if [ -f "$pid_file" ]; then
      pid=$(cat "$pid_file")
      if kill "$pid" 2>/dev/null; then
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        echo "emulator on port $port stopped"
      fi
      rm -f "$pid_file"
    fi
    ;;
  free-port)
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    ;;
  *)
    echo "usage: $0 start|stop [port] | free-port" >&2
    exit 2
    ;;
esac
