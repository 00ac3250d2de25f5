#!/usr/bin/env bash
# Property-based fuzzing of the API from its own served OpenAPI document (schemathesis, pinned in
# the venv), as a client generated from that document would call it.
#
#   fuzz.sh [--base-url URL] [--seed N|random] [--max-examples N] [--explore] [--out DIR]
#           [-- more schemathesis run arguments]
#
# With --base-url, fuzzes a running dev server started with --seed (make test, make dev); without
# it (make fuzz), starts its own emulator, payment sandbox and dev server --seed on free ports and
# stops them afterwards. Either way it first seeds the demo catalogue (seed_demo.py, idempotent) and
# a few orders and a payment (fuzz_auth.py prepare), then runs every phase (examples, coverage,
# fuzzing, stateful) with three identities — buyer, seller, admin, chosen per operation by
# infra/local/fuzz_auth.py, which also puts real demo ids into paths and bodies.
#
# Fails on: any 5xx (not_a_server_error), a dropped connection or other transport error (reported
# by schemathesis as an error), an undocumented status code, a content type or response body or
# headers other than documented. positive_data_acceptance / negative_data_rejection are not
# failing checks by default (a business rule may refuse a schema-valid request: an unknown id, an
# empty cart, an end before a start); --explore adds them, to look for constraints the code
# enforces and the document does not state. The webhook routes (tag `webhooks`,
# /api/v1/payments/<provider>/webhook) are skipped: every request to them must carry a payment
# provider's signature over its bytes, so generated requests only ever test the refusal. Stateful
# testing runs on the links schemathesis infers from the document (it declares no OpenAPI links).
# The run writes (users, shops, products, orders, …): point it at a throwaway server.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/lib.sh

base_url="" seed=random max_examples=${FUZZ_MAX_EXAMPLES:-8} out="" extra=()
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance
while [ $# -gt 0 ]; do
  case "$1" in
    --base-url) base_url=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --max-examples) max_examples=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --explore) checks+=,positive_data_acceptance,negative_data_rejection; shift ;;
    --) shift; extra=("$@"); break ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "fuzz.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$seed" = random ] && seed=$(python3 -c 'import random; print(random.randrange(2**31))')

if [ -n "$base_url" ]; then
  bash infra/local/venv.sh >/dev/null
else
  step "Python tools (.venv: moto, schemathesis)"
  bash infra/local/venv.sh
  step "Building the workspace, dev profile (the same build as make test and make dev)"
  build_workspace
  trap stop_local_stack EXIT
  trap 'exit 130' INT TERM
  # Every request comes from 127.0.0.1 and from three users: lift the write limits.
  start_local_stack fuzz --param WriteLimitPerIp=0 --param WriteLimitPerUser=0 -- --seed
  base_url="http://127.0.0.1:$api_port"
  out=${out:-$run_dir/fuzz}
fi
out=${out:-.local/fuzz-$(date +%Y%m%dT%H%M%S)}
mkdir -p "$out"
started=$(date +%s)

step "Demo data for the fuzz run (seed_demo.py, fuzz_auth.py prepare)"
.venv/bin/python infra/local/seed_demo.py --base-url "$base_url" --ids-out "$out/ids.json" >"$out/seed.log" \
  || { cat "$out/seed.log"; exit 1; }
echo "  demo catalogue ready (log: $out/seed.log)"
.venv/bin/python infra/local/fuzz_auth.py prepare --base-url "$base_url" --ids "$out/ids.json"

step "schemathesis over $base_url/openapi.json (seed $seed, at most $max_examples examples per operation and phase)"
status=0
FUZZ_BASE_URL=$base_url FUZZ_IDS=$out/ids.json SCHEMATHESIS_HOOKS=infra/local/fuzz_auth.py \
  .venv/bin/schemathesis --config-file infra/local/fuzz.toml run "$base_url/openapi.json" \
  --exclude-tag webhooks \
  --checks "$checks" \
  --max-examples "$max_examples" --seed "$seed" --workers 4 --request-timeout 60 \
  --generation-database none --no-color --output-truncate false \
  --report json,junit --report-json-path "$out/report.json" --report-junit-path "$out/junit.xml" \
  "${extra[@]}" >"$out/schemathesis.log" 2>&1 || status=$?

# The failures and errors as schemathesis printed them, then the figures from its JSON report.
sed -n '/^=* FAILURES =*$/,/^=* SUMMARY =*$/p; /^=* ERRORS =*$/,/^=* SUMMARY =*$/p' "$out/schemathesis.log" | sed '$d' | head -n 400
python3 - "$out/report.json" "$seed" "$started" "$status" "$out" <<'PY'
import json, sys, time
path, seed, started, status, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
try:
    r = json.load(open(path))
except (OSError, ValueError) as e:
    print(f"fuzz: no report ({e}); schemathesis exited {status}, see {out}/schemathesis.log")
    sys.exit(1)
ops, cases = r["operations"], r["test_cases"]
kinds = ", ".join(f"{f.get('code', '')} {f.get('title', '')} ×{f.get('count', 1)}".strip() for f in r["failures"])
errors = ", ".join(f"{e.get('title', '')} ×{e.get('count', 1)}" for e in r["errors"]) or "none"
print(f"""
  fuzz (schemathesis {r['schemathesis_version']}, seed {seed})
    cases generated      {cases['generated']}
    operations covered   {ops['tested']} of {ops['selected']} selected ({ops['total']} in the document; webhooks skipped)
    failures             {cases['unique_failures']}{f" ({kinds})" if kinds else ""}; errors: {errors}
    time                 {time.time() - started:.0f} s (schemathesis {r['running_time']:.0f} s, the rest seeding the demo data)
    phases               {', '.join(f"{k} {v['status']}" for k, v in r['phases'].items())}
    logs                 {out}/schemathesis.log, report.json, junit.xml
    same run again       make fuzz SEED={seed}   (or infra/local/fuzz.sh --base-url URL --seed {seed})""")
PY
if [ "$status" -ne 0 ]; then
  echo "fuzz: FAILED (schemathesis exit status $status; see $out/schemathesis.log)" >&2
  exit 1
fi
echo "fuzz: passed"
