#!/usr/bin/env bash
# ansible-test sanity needs the collection at .../ansible_collections/multiagent/ops as a real
# directory (it resolves symlinks), so test a copy of the tracked and new files there, with
# the dependency collections beside it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TREE="$ROOT/build/sanity/ansible_collections"
rm -rf "$TREE/multiagent"
mkdir -p "$TREE/multiagent/ops"
for ns in "$ROOT"/.collections/ansible_collections/*/; do
  name=$(basename "$ns")
  [[ "$name" == multiagent ]] || ln -sfn "$ns" "$TREE/$name"
done
cd "$ROOT"
# What the collection ships (galaxy.yml build_ignore): the test stack, the emulator, the
# pytest integration suite, hack/ and bench/ are development tooling, checked by ruff.
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  case "$f" in
    tests/stack/*|tests/emulator/*|tests/integration/*|hack/*|bench/*) continue ;;
  esac
  [[ -e "$f" || -L "$f" ]] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -xf - -C "$TREE/multiagent/ops"
cd "$TREE/multiagent/ops"
# ansible-test lists files with git; the copy lies inside this (ignoring) work tree, so it
# gets a repository of its own.
git init -q . && git add -A
exec "$ROOT/.venv/bin/ansible-test" sanity --venv --python 3.11 --color no "$@"
