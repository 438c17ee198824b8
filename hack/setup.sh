#!/usr/bin/env bash
# Prepare this checkout for development, tests and the demo. Idempotent: re-running it
# only does what is missing.
#
#   - .venv with the pinned tool chain (hack/requirements-dev.txt + requirements.txt,
#     constrained by hack/constraints.txt), bindep among it
#   - Debian packages: those of bindep.txt's rules for this platform and the `test` profile
#     (PostgreSQL 15, Redis 7, zstd, ...) that bindep reports missing
#   - .venv-min: the lowest ansible-core this collection declares (meta/runtime.yml),
#     used by CI for the unit tests and a smoke run
#   - .collections/: kubernetes.core & co. taken from the PyPI `ansible` wheel (Galaxy is
#     not reachable here), plus this checkout linked as multiagent.ops
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

PYTHON=${PYTHON:-python3}
ANSIBLE_BUNDLE_VERSION=12.3.0   # the `ansible` wheel the dependency collections come from
MIN_ANSIBLE_CORE=2.16.19        # lowest ansible-core tested (requires_ansible: >=2.16.0)
COLLECTIONS=(kubernetes/core community/postgresql community/general ansible/posix ansible/utils awx/awx)

log() { printf '[setup] %s\n' "$*"; }

apt_install() {
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- Python virtual environments ---------------------------------------------------
# Debian's python3 makes venvs only with python3-venv (ensurepip); everything else, bindep
# included, comes after the venv.
if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
  log "installing Debian package: python3-venv"
  apt_install python3-venv
fi

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

want=$(stamp_of hack/requirements-dev.txt requirements.txt hack/constraints.txt)
if [[ ! -x .venv/bin/python || "$(cat .venv/.stamp 2>/dev/null)" != "$want" ]]; then
  log "creating .venv"
  [[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check \
    -c hack/constraints.txt -r hack/requirements-dev.txt -r requirements.txt
  echo "$want" > .venv/.stamp
fi

# --- Debian packages ---------------------------------------------------------------
# bindep selects the rules of this platform (bindep.txt also holds the execution environment's
# RPM rules) plus the test stack's, and lists those not installed.
rc=0
missing=$(.venv/bin/bindep -b -f bindep.txt test) || rc=$?
if ((rc > 1)); then
  log "bindep could not read bindep.txt (exit $rc)"
  exit "$rc"
fi
if [[ -n "$missing" ]]; then
  mapfile -t packages <<<"$missing"
  log "installing Debian packages: ${packages[*]}"
  apt_install "${packages[@]}"
fi

# --- .venv-min ---------------------------------------------------------------------
# The unit tests also check bindep.txt and the execution environment with bindep and
# ansible-builder, at the versions of the tool chain (and build the tarball: distlib reads galaxy.yml's manifest).
mapfile -t EE_TOOLS < <(grep -E '^(bindep|ansible-builder|distlib)==' hack/requirements-dev.txt)
MIN_EXTRAS=(pytest pytest-asyncio pytest-xdist kmock aiohttp "moto[s3]" kubernetes-validate "${EE_TOOLS[@]}")
want_min=$(echo "$MIN_ANSIBLE_CORE ${MIN_EXTRAS[*]}" | cat - requirements.txt hack/constraints.txt | sha256sum | cut -c1-16)
if [[ ! -x .venv-min/bin/python || "$(cat .venv-min/.stamp 2>/dev/null)" != "$want_min" ]]; then
  log "creating .venv-min (ansible-core $MIN_ANSIBLE_CORE)"
  [[ -x .venv-min/bin/python ]] || "$PYTHON" -m venv .venv-min
  # The runtime deps at the tested versions; ansible-core at the declared minimum; moto for
  # the unit tests of the S3 location; kubernetes-validate for the rendered manifests.
  grep -v -E '^(ansible-core|ansible-compat|ansible-lint|molecule|resolvelib)==' hack/constraints.txt > .venv-min/constraints.txt
  .venv-min/bin/pip install -q --disable-pip-version-check -c .venv-min/constraints.txt \
    "ansible-core==$MIN_ANSIBLE_CORE" -r requirements.txt "${MIN_EXTRAS[@]}"
  echo "$want_min" > .venv-min/.stamp
fi

# --- Collections -------------------------------------------------------------------
CDIR=.collections/ansible_collections
mkdir -p "$CDIR/multiagent"
bundle_stamp="$CDIR/.bundle-$ANSIBLE_BUNDLE_VERSION-$(echo "${COLLECTIONS[*]}" | sha256sum | cut -c1-8)"
if [[ ! -f "$bundle_stamp" ]]; then
  log "extracting ${COLLECTIONS[*]} from ansible==$ANSIBLE_BUNDLE_VERSION"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  .venv/bin/pip download -q --disable-pip-version-check --no-deps "ansible==$ANSIBLE_BUNDLE_VERSION" -d "$tmp"
  globs=()
  for c in "${COLLECTIONS[@]}"; do
    rm -rf "${CDIR:?}/$c"
    globs+=("ansible_collections/$c/*")
  done
  (cd "$tmp" && "$ROOT/.venv/bin/python" - "$tmp"/ansible-*.whl "${globs[@]}" <<'PY'
import fnmatch, sys, zipfile
wheel, patterns = sys.argv[1], sys.argv[2:]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if any(fnmatch.fnmatch(n, p) for p in patterns)]
    z.extractall(".", names)
PY
  )
  for c in "${COLLECTIONS[@]}"; do
    mkdir -p "$CDIR/${c%/*}"
    mv "$tmp/ansible_collections/$c" "$CDIR/$c"
  done
  rm -f "$CDIR"/.bundle-*
  touch "$bundle_stamp"
fi
# This checkout is the collection multiagent.ops.
if [[ "$(readlink "$CDIR/multiagent/ops" 2>/dev/null)" != "$ROOT" ]]; then
  ln -sfn "$ROOT" "$CDIR/multiagent/ops"
fi

# --- ansible-test sanity bootstrap -------------------------------------------------
# ansible-test downloads get-pip.py from a host that is not reachable here; this shim
# bootstraps pip from the standard library instead (see ../shared/notes).
shim_dir="$HOME/.ansible/test/cache"
mkdir -p "$shim_dir"
cat > "$shim_dir/get_pip_24_2.py.new" <<'PY'
"""Offline stand-in for get-pip.py: bootstrap pip with ensurepip, then install what was asked.

get-pip's own options (--no-setuptools, --no-wheel) are not pip options and are dropped.
"""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
own = {"--no-setuptools", "--no-wheel", "--disable-pip-version-check"}
args = [a for a in sys.argv[1:] if a not in own]
# ansible-test runs this with a scrubbed environment: hand pip the system CA bundle.
for bundle in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"):
    if os.path.exists(bundle):
        args = ["--cert", bundle] + args
        break
if args:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *args])
PY
mv -f "$shim_dir/get_pip_24_2.py.new" "$shim_dir/get_pip_24_2.py"

# --- npm: the dashboards' type check ------------------------------------------------
# tests/integration/test_dashboards.py type-checks the rendered Grafana dashboards with tsc
# --strict against @grafana/schema: both pinned in hack/dashboards/package-lock.json, installed
# by `npm ci` into its gitignored node_modules, again only when the lockfile changed.
if command -v npm >/dev/null; then
  want_npm=$(stamp_of hack/dashboards/package-lock.json)
  if [[ "$(cat hack/dashboards/node_modules/.stamp 2>/dev/null)" != "$want_npm" ]]; then
    log "installing hack/dashboards (npm ci: typescript, @grafana/schema)"
    (cd hack/dashboards && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want_npm" > hack/dashboards/node_modules/.stamp
  fi
else
  log "npm not found (bindep.txt: nodejs, npm): tests/integration/test_dashboards.py will fail"
fi

log "ready: .venv ($(.venv/bin/ansible --version | head -1)), .venv-min, .collections"
