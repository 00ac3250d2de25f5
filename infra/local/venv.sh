#!/usr/bin/env bash
# Creates or updates the project venv (.venv at the repo root) from the pinned
# infra/requirements.txt (moto server, boto3, cfn-lint, openapi-spec-validator, schemathesis —
# fully pinned, with every transitive dependency).
# A stamp holding the requirements' sha256 makes a second run a fast no-op; a changed
# requirements file, or a venv whose Python no longer runs, triggers a reinstall.
set -euo pipefail
cd "$(dirname "$0")/../.."
req=infra/requirements.txt
stamp=.venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && .venv/bin/python -c '' 2>/dev/null; then
  echo ".venv is up to date"
  exit 0
fi
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "venv.sh: Python 3.10+ is required (found: $("$python" --version 2>&1 || echo none))" >&2
  exit 1
fi
if ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  echo "venv.sh: python3-venv is missing; installing it with apt-get" >&2
  (apt-get update -qq && apt-get install -y -qq python3-venv) >&2
fi
if [ -d .venv ] && ! .venv/bin/python -c '' 2>/dev/null; then
  echo "venv.sh: .venv is broken (its Python does not run); recreating it"
  rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $("$python" --version 2>&1)"
  "$python" -m venv .venv
fi
rm -f "$stamp"
echo "installing pinned Python tools into .venv (moto, boto3, cfn-lint, schemathesis; about 40 s the first time)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-input --require-virtualenv -r "$req"
echo "$want" >"$stamp"
echo ".venv ready"
