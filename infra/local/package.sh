#!/usr/bin/env bash
# `make package`: release builds of every Lambda with cargo-lambda (installed from PyPI into
# .venv-package, pinned in infra/requirements-package.txt). Builds for the host architecture
# unless ARCH=arm64 / ARCH=x86_64 is given (arm64 needs the aarch64 Rust target installed).
# Output: target/lambda/<binary>/bootstrap — what `sam build` would package.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/lib.sh

step "cargo-lambda (.venv-package)"
want=$(sha256sum infra/requirements-package.txt | cut -d' ' -f1)
if [ "$(cat .venv-package/.requirements.sha256 2>/dev/null)" != "$want" ]; then
  python3 -m venv .venv-package
  .venv-package/bin/python -m pip install --quiet --disable-pip-version-check -r infra/requirements-package.txt
  echo "$want" > .venv-package/.requirements.sha256
fi
export PATH="$PWD/.venv-package/bin:$PATH"
cargo lambda --version

arch=${ARCH:-$(uname -m)}
case "$arch" in
  arm64|aarch64) flag=--arm64 ;;
  x86_64|amd64) flag=--x86-64 ;;
  *) echo "unknown ARCH $arch" >&2; exit 2 ;;
esac
binaries=$(grep -E '^\s+Binary:' template.yaml | awk '{print $2}' | sort -u)
step "Release build for $arch: $(echo $binaries | tr '\n' ' ')"
start=$(date +%s)
args=()
for b in $binaries; do args+=(--bin "$b"); done
cargo lambda build --release "$flag" "${args[@]}"
echo "release build took $(( $(date +%s) - start )) s"
for b in $binaries; do ls -lh "target/lambda/$b/bootstrap"; done
