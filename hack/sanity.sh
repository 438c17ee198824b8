#!/usr/bin/env bash
# ansible-test sanity on the collection as it ships: the tarball `ansible-galaxy collection
# build` makes (galaxy.yml's manifest decides what is in it), installed from that tarball
# into build/sanity/ansible_collections/multiagent/ops with the dependency collections linked
# beside it. ansible-test needs the collection there as a real directory (it resolves
# symlinks) and lists its files with git, so the installed tree gets a repository of its own.
# Arguments are passed to ansible-test (e.g. --test pylint).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD="$ROOT/build/sanity"
TREE="$BUILD/ansible_collections"
BIN="$ROOT/.venv/bin"

rm -rf "$TREE/multiagent" "$BUILD/dist"
mkdir -p "$TREE" "$BUILD/dist"
for ns in "$ROOT"/.collections/ansible_collections/*/; do
  name=$(basename "$ns")
  [[ "$name" == multiagent ]] || ln -sfn "$ns" "$TREE/$name"
done

"$BIN/ansible-galaxy" collection build --output-path "$BUILD/dist" "$ROOT" >/dev/null
tarball=("$BUILD"/dist/multiagent-ops-*.tar.gz)
# --no-deps: the dependencies are the linked collections above.
ANSIBLE_COLLECTIONS_PATH="$BUILD" "$BIN/ansible-galaxy" collection install --no-deps --force -p "$BUILD" "${tarball[0]}" >/dev/null
echo "sanity: $(basename "${tarball[0]}") installed in ${TREE#"$ROOT"/}/multiagent/ops"

cd "$TREE/multiagent/ops"
git init -q .
# ansible-test takes untracked files too: its own output (with the venv it delegates to)
# must not count as the collection's.
echo /tests/output/ >> .git/info/exclude
git add -A
exec "$BIN/ansible-test" sanity --venv --python 3.11 --color no "$@"
