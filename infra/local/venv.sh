#!/usr/bin/env bash
# Creates/updates the project venv (.venv) from the pinned infra/requirements.txt.
# A stamp holding the requirements' hash makes the second run a no-op.
set -euo pipefail
cd "$(dirname "$0")/../.."
req=infra/requirements.txt
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat .venv/.requirements.sha256 2>/dev/null)" = "$want" ]; then
  echo ".venv is up to date"
  exit 0
fi
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "Python 3.10+ is required (found $("$python" --version 2>&1))" >&2
  exit 1
fi
if ! "$python" -m venv --help >/dev/null 2>&1; then
  echo "python3-venv is missing; installing it with apt-get" >&2
  (apt-get update -qq && apt-get install -y -qq python3-venv) >&2
fi
echo "creating .venv and installing pinned Python tools (moto, boto3, cfn-lint)…"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --require-virtualenv -r "$req"
echo "$want" > .venv/.requirements.sha256
echo ".venv ready"
