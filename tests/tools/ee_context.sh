#!/usr/bin/env bash
# Copyright: confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Build context of the execution environment (AWX / Automation Platform):
#   tests/tools/ee_context.sh [CONTEXT_DIR]      (default .build/ee/context)
# 1. builds the collection tarball from the work tree into .build/ee/confidential-azure.tar.gz
#    (the path execution-environment.yml takes it from),
# 2. runs `ansible-builder create` on execution-environment.yml into CONTEXT_DIR.
# Building the image needs a container engine:
#   ansible-builder build -f execution-environment.yml -t confidential-azure-ee --context CONTEXT_DIR
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CONTEXT=${1:-$ROOT/.build/ee/context}
VENV_BIN=${VENV_BIN:-$ROOT/.venv/bin}
GALAXY=$VENV_BIN/ansible-galaxy
BUILDER=$VENV_BIN/ansible-builder
[ -x "$GALAXY" ] || GALAXY=$(command -v ansible-galaxy)
[ -x "$BUILDER" ] || BUILDER=$(command -v ansible-builder)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# the collection as galaxy builds it: tracked files plus untracked, not ignored ones (like the staged test tree)
mkdir -p "$work/ansible_collections/confidential/azure"
dest=$work/ansible_collections/confidential/azure
cd "$ROOT"
while IFS= read -r -d '' f; do
    if [ -f "$f" ] && [ ! -L "$f" ]; then cp --parents "$f" "$dest/"; fi   # skip deleted files and links
done < <(git ls-files -co --exclude-standard -z)
mkdir -p "$ROOT/.build/ee"
(cd "$work/ansible_collections/confidential/azure" && "$GALAXY" collection build --force --output-path "$work/dist" >/dev/null)
cp "$work"/dist/confidential-azure-*.tar.gz "$ROOT/.build/ee/confidential-azure.tar.gz"
echo "collection tarball: $ROOT/.build/ee/confidential-azure.tar.gz"
(cd "$ROOT" && "$BUILDER" create --file execution-environment.yml --context "$CONTEXT" --output-filename Containerfile)
echo "build context: $CONTEXT"
