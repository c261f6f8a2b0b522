#!/usr/bin/env bash
# Copyright: confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Test toolchain driver; the Makefile's targets call it:
#   tests/tools/run.sh venv|sanity|units|lint|build-check|functional|compat|test|summary|demo|bench
# Every stage installs what it needs first (bindep packages, venvs, the
# ansible-test pip bootstrap cache, collection dependencies, the staged
# collection tree under .build/).  Each check inside a stage is a "step" whose
# result goes to .build/results/<stage>/steps.jsonl (pytest steps also write
# junit xml there); tests/tools/summary.py turns those into the closing line
# "N passed, N failed".
# Stage functions are called indirectly (stage_<name>, step COMMAND...), which shellcheck cannot follow:
# shellcheck disable=SC2317
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
BUILD=$ROOT/.build
COLL=$BUILD/ansible_collections/confidential/azure
RESULTS=$BUILD/results
TOOLS=$ROOT/tests/tools

VENV=$ROOT/.venv                      # Python 3.11, ansible-core 2.19, all requirements
VENV_LATEST=$ROOT/.venv-core-latest   # Python 3.13, newest ansible-core
VENV_MIN=$ROOT/.venv-min              # Python 3.11, low end of the supported SDK range
CORE_MAIN='ansible-core>=2.19,<2.20'
CORE_LATEST='ansible-core>=2.21,<2.22'

export PATH="$VENV/bin:$PATH"   # tools call each other (antsibull-docs runs ansible-galaxy)
export PIP_DISABLE_PIP_VERSION_CHECK=1
export ANSIBLE_FORCE_COLOR=0
export PY_COLORS=0

pyenv_python() {  # pyenv_python 3.13 -> path of a pyenv-installed interpreter, else pythonX.Y from PATH
    local root dir
    root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
    for dir in "$root/versions/$1".*; do
        if [ -x "$dir/bin/python" ]; then echo "$dir/bin/python"; return 0; fi
    done
    command -v "python$1"
}
PY311=${PY311:-$(pyenv_python 3.11)}
PY313=${PY313:-$(pyenv_python 3.13)}

quiet_pip_noise() {  # drop pip's warnings about the machine's missing local index dirs
    grep --line-buffered -v "is ignored: it is neither a file nor a directory"
}

# step STAGE NAME COMMAND... : run COMMAND, log it, record its result.
step() {
    local stage=$1 name=$2 start rc
    shift 2
    mkdir -p "$RESULTS/$stage"
    start=$(date +%s)
    echo "=== [$stage] $name"
    "$@" 2>&1 | tee "$RESULTS/$stage/$name.log" | quiet_pip_noise
    rc=${PIPESTATUS[0]}
    printf '{"stage": "%s", "name": "%s", "rc": %d, "seconds": %d, "kind": "%s"}\n' \
        "$stage" "$name" "$rc" "$(($(date +%s) - start))" "${STEP_KIND:-check}" >>"$RESULTS/$stage/steps.jsonl"
    if [ "$rc" -eq 0 ]; then echo "=== [$stage] $name: ok"; else echo "=== [$stage] $name: FAILED (exit $rc, log $RESULTS/$stage/$name.log)"; fi
    return "$rc"
}

# pytest_step STAGE NAME PYTHON ARGS... : pytest with junit xml; exit 5 (no tests collected) counts as 0 tests.
pytest_step() {
    local stage=$1 name=$2 python=$3
    shift 3
    mkdir -p "$RESULTS/$stage"
    STEP_KIND=pytest step "$stage" "$name" run_pytest "$python" --junitxml="$RESULTS/$stage/$name.xml" "$@"
}
run_pytest() {
    local python=$1 rc
    shift
    # A hung test must not eat CI's budget: each pytest run gets PYTEST_RUN_TIMEOUT seconds (default 40 min; a hang guard, not a budget).
    timeout --kill-after=30 "${PYTEST_RUN_TIMEOUT:-2400}" "$python" -m pytest -p no:cacheprovider "$@"
    rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then echo "pytest: killed after ${PYTEST_RUN_TIMEOUT:-2400}s"; fi
    if [ "$rc" -eq 5 ]; then echo "pytest: no tests collected (counted as 0 tests)"; return 0; fi
    return "$rc"
}

# ---------------------------------------------------------------- preparation
ensure_bindep() { "$PY311" "$TOOLS/bindep_install.py" --file "$ROOT/bindep.txt"; }

ensure_venv() {
    "$PY311" "$TOOLS/venv.py" --python "$PY311" --dir "$VENV" \
        -r "$ROOT/requirements.txt" -r "$ROOT/tests/requirements.txt" "$CORE_MAIN" &&
        "$VENV/bin/python" "$TOOLS/ansible_test_cache.py"
}
ensure_venv_latest() {
    [ -n "$PY313" ] || { echo "Python 3.13 not found (pyenv install 3.13.0)"; return 1; }
    "$PY311" "$TOOLS/venv.py" --python "$PY313" --dir "$VENV_LATEST" "$CORE_LATEST" &&
        "$VENV_LATEST/bin/python" "$TOOLS/ansible_test_cache.py"
}
ensure_venv_min() {
    "$PY311" "$TOOLS/venv.py" --python "$PY311" --dir "$VENV_MIN" \
        -r "$ROOT/requirements.txt" -r "$ROOT/tests/requirements.txt" \
        -c "$TOOLS/constraints-min.txt" "$CORE_MAIN"
}
ensure_tree() {
    "$PY311" "$TOOLS/stage_tree.py" "$ROOT" && "$VENV/bin/python" "$TOOLS/collection_deps.py" "$ROOT"
}
prepare() {  # prepare STAGE: the common setup, recorded as a step of STAGE only when it fails
    local stage=$1
    if ! { ensure_bindep && ensure_venv && ensure_tree; } >"$BUILD/prepare.log" 2>&1; then
        quiet_pip_noise <"$BUILD/prepare.log" | tail -n 30
        step "$stage" prepare false
        return 1
    fi
    quiet_pip_noise <"$BUILD/prepare.log" | grep -v '^collection deps\|^ansible-test pip' || true
}

# ---------------------------------------------------------------- stages
ansible_test_in_tree() {  # ansible_test_in_tree VENV ARGS...
    local venv=$1
    shift
    (cd "$COLL" && PATH="$venv/bin:$PATH" ansible-test "$@" --color no)
}

with_path() {  # with_path DIR COMMAND... : COMMAND with DIR first on PATH
    local dir=$1
    shift
    PATH="$dir:$PATH" "$@"
}

no_sanity_ignores() {  # the project's rule: fix the code, never ignore a sanity finding
    local found
    found=$(find "$ROOT/tests/sanity" -name 'ignore-*.txt' 2>/dev/null)
    if [ -n "$found" ]; then
        echo "sanity ignore files are not allowed here (fix the code instead):"
        echo "$found"
        return 1
    fi
    echo "no tests/sanity/ignore-*.txt"
}

stage_sanity() {
    prepare sanity || return 1
    step sanity no-sanity-ignore-files no_sanity_ignores
    step sanity ansible-test-sanity-core-2.19-py3.11 ansible_test_in_tree "$VENV" sanity --python 3.11
    # Modules and module_utils also run on guests with Python 3.8 (Ubuntu 20.04): the target-side
    # sanity tests (compile, import with guarded third-party imports) on 3.8 with ansible-core 2.19.
    local py38
    py38=$(pyenv_python 3.8)
    if [ -n "$py38" ]; then
        step sanity ansible-test-sanity-compile-import-py3.8 with_path "$(dirname "$py38")" \
            ansible_test_in_tree "$VENV" sanity --test compile --test import --python 3.8
    else
        echo "WARNING: no Python 3.8 interpreter (pyenv install 3.8): Python 3.8 compile/import sanity not run"
    fi
    if ensure_venv_latest >"$BUILD/prepare-latest.log" 2>&1; then
        local version
        version=$("$VENV_LATEST/bin/python" -c 'import ansible; print(ansible.__version__)')
        step sanity "ansible-test-sanity-core-$version-py3.13" ansible_test_in_tree "$VENV_LATEST" sanity --python 3.13
    else
        quiet_pip_noise <"$BUILD/prepare-latest.log" | tail -n 30
        step sanity ansible-test-sanity-core-latest-py3.13 false
    fi
}

stage_units() {
    prepare units || return 1
    rm -rf "$COLL/tests/output/junit"
    STEP_KIND=ansible-test-units step units ansible-test-units ansible_test_in_tree "$VENV" units --python 3.11 --venv
    if [ -d "$COLL/tests/output/junit" ]; then
        mkdir -p "$RESULTS/units/junit" && cp "$COLL"/tests/output/junit/*.xml "$RESULTS/units/junit/" 2>/dev/null
    fi
}

stage_lint() {
    prepare lint || return 1
    step lint ansible-lint env ANSIBLE_COLLECTIONS_PATH="$BUILD" "$VENV/bin/ansible-lint" --profile production
    step lint antsibull-docs-lint-collection-docs \
        env -C "$COLL" ANSIBLE_COLLECTIONS_PATH="$BUILD" "$VENV/bin/antsibull-docs" lint-collection-docs --plugin-docs .
    step lint antsibull-changelog-lint "$VENV/bin/antsibull-changelog" lint
    step lint antsibull-changelog-lint-changelog-yaml "$VENV/bin/antsibull-changelog" lint-changelog-yaml changelogs/changelog.yaml
}

stage_build_check() {
    prepare build-check || return 1
    local work=$BUILD/build-check
    rm -rf "$work"
    mkdir -p "$work/dist" "$work/collections"
    step build-check galaxy-build env -C "$COLL" "$VENV/bin/ansible-galaxy" collection build --force --output-path "$work/dist" || return 1
    step build-check galaxy-install "$VENV/bin/ansible-galaxy" collection install --no-deps --force \
        -p "$work/collections" "$work"/dist/confidential-azure-*.tar.gz || return 1
    # ansible-doc sees only the installed tarball, never the work tree.
    local docenv=(env ANSIBLE_COLLECTIONS_PATH="$work/collections" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
        ANSIBLE_ROLES_PATH="$work/roles-none" "$VENV/bin/ansible-doc")
    local installed=$work/collections/ansible_collections/confidential/azure
    local type name
    while read -r type name; do
        [ -n "$type" ] || continue
        step build-check "ansible-doc-$type-$name" check_doc "$type" "confidential.azure.$name" "${docenv[@]}"
    done < <("$VENV/bin/python" "$TOOLS/list_plugins.py" "$installed" "${docenv[@]}")
}
check_doc() {  # check_doc TYPE FQCN ANSIBLE-DOC-COMMAND... : docs must render and name the plugin
    local type=$1 fqcn=$2 out
    shift 2
    out=$("$@" -t "$type" "$fqcn" 2>&1) || { echo "$out"; return 1; }
    echo "$out" | head -n 5
    if grep -q '^\[WARNING\]\|^\[ERROR\]' <<<"$out"; then echo "$out" | grep '^\[WARNING\]\|^\[ERROR\]'; return 1; fi
    grep -q "$fqcn" <<<"$out" || { echo "ansible-doc output does not name $fqcn"; return 1; }
}

# functional_groups: one pytest run per directory under tests/functional (plus one for test files at its top),
# so that one area's collection error or conftest clash cannot stop the other areas' tests.
functional_groups() {
    local dir
    [ -d "$ROOT/tests/functional" ] || return 0
    if compgen -G "$ROOT/tests/functional/test_*.py" >/dev/null; then
        echo "top $(cd "$ROOT" && echo tests/functional/test_*.py)"
    fi
    for dir in "$ROOT"/tests/functional/*/; do
        dir=${dir%/}
        if [ -n "$(find "$dir" -name 'test_*.py' -print -quit)" ]; then
            echo "$(basename "$dir") tests/functional/$(basename "$dir")"
        fi
    done
}

stage_functional() {
    prepare functional || return 1
    local name paths
    while read -r name paths; do
        # shellcheck disable=SC2086  # paths is a list of files/dirs without spaces
        pytest_step functional "pytest-functional-$name" "$VENV/bin/python" $paths \
            --continue-on-collection-errors -rfE
    done < <(functional_groups)
}

stage_compat() {
    prepare compat || return 1
    if ! ensure_venv_min >"$BUILD/prepare-min.log" 2>&1; then
        quiet_pip_noise <"$BUILD/prepare-min.log" | tail -n 30
        step compat venv-min false
        return 1
    fi
    step compat sdk-versions "$VENV_MIN/bin/python" -c '
import importlib.metadata as m
for d in ("azure-core", "azure-identity", "azure-mgmt-compute", "azure-mgmt-core", "azure-keyvault-keys"):
    print(d, m.version(d))'
    local name paths
    while read -r name paths; do
        # shellcheck disable=SC2086
        pytest_step compat "pytest-sdk-range-$name" "$VENV_MIN/bin/python" $paths -m sdk_range \
            --continue-on-collection-errors -rfE
    done < <(functional_groups)
    pytest_step compat pytest-unit-plain "$VENV_MIN/bin/python" tests/unit --continue-on-collection-errors -rfE
}

stage_bench() {  # make bench: every benchmark (tests/bench/run.py), not part of `make test`; BENCH_ARGS passes options
    prepare bench || return 1
    # shellcheck disable=SC2086  # BENCH_ARGS is a list of options
    "$VENV/bin/python" "$ROOT/tests/bench/run.py" ${BENCH_ARGS:-}
}

stage_demo() {  # the README's first command, end to end, as one check of `make test`
    prepare demo || return 1
    step demo make-demo "$VENV/bin/python" "$ROOT/tests/demo/run.py"
}

run_stage() {  # run_stage NAME: fresh results for that stage, wall time recorded
    local stage=$1 fn start rc
    fn=stage_${stage//-/_}
    rm -rf "${RESULTS:?}/$stage"
    mkdir -p "$RESULTS/$stage"
    start=$(date +%s)
    echo "##### stage $stage"
    "$fn"
    echo "$(($(date +%s) - start))" >"$RESULTS/$stage/seconds"
    "$PY311" "$TOOLS/summary.py" "$RESULTS" --stage "$stage"
    rc=$?
    return "$rc"
}

# PYTHONPATH: the staged tree's parent holds ansible_collections/confidential/azure, so
# `import ansible_collections.confidential.azure...` works in pytest stages.
export PYTHONPATH="$BUILD${PYTHONPATH:+:$PYTHONPATH}"
export ANSIBLE_COLLECTIONS_PATH="$BUILD"
mkdir -p "$BUILD"

main() {
case "${1:-}" in
venv)
    ensure_bindep && ensure_venv && ensure_venv_latest && ensure_tree ;;
sanity | units | lint | build-check | functional | compat)
    run_stage "$1" ;;
test)
    rm -rf "$RESULTS"
    for stage in sanity units lint build-check functional compat demo; do
        run_stage "$stage" || true
    done
    "$PY311" "$TOOLS/summary.py" "$RESULTS" ;;
summary)
    "$PY311" "$TOOLS/summary.py" "$RESULTS" ;;
bench)
    stage_bench ;;
demo)
    # The end-to-end rollout lives in tests/demo/run.py (owned by the rollout work).
    if [ ! -f "$ROOT/tests/demo/run.py" ]; then
        echo "make demo: the end-to-end rollout on the local simulator is not available yet" >&2
        echo "(tests/demo/run.py has not landed). Nothing was run." >&2
        exit 2
    fi
    if ! { ensure_bindep && ensure_venv && ensure_tree; } >"$BUILD/prepare.log" 2>&1; then
        quiet_pip_noise <"$BUILD/prepare.log" | tail -n 30
        echo "make demo: setting up the venv failed (log: $BUILD/prepare.log)" >&2
        exit 1
    fi
    exec "$VENV/bin/python" "$ROOT/tests/demo/run.py" ;;
*)
    echo "usage: $0 venv|sanity|units|lint|build-check|functional|compat|test|summary|demo" >&2
    exit 64 ;;
esac
}

# Parsed completely before anything runs, so editing this file during a run cannot derail that run.
main "$@"
exit "$?"
