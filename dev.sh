#!/usr/bin/env bash
# sesshu developer entry point.
#   ./dev.sh demo [sesshu options…]  set up, build the demo store if missing, open the TUI on it
#   ./dev.sh test [pytest options…]  set up, then ruff, mypy --strict and the whole test suite
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
DEMO_STORE=.demo/sesshu.db

say() { printf '\033[1m%s\033[0m\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        say "Please run as root or install sudo: $*"; exit 1; fi
}

apt_install() {
    command -v apt-get >/dev/null || { say "Install these packages first: $*"; exit 1; }
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

find_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"; return
        fi
    done
    say "sesshu needs Python 3.11 or newer."; exit 1
}

setup() {
    local python
    python=$(find_python)
    if [ ! -x "$VENV/bin/python" ]; then
        say "Creating the virtual environment ($python)…"
        if ! "$python" -m venv "$VENV" 2>/dev/null; then
            rm -rf "$VENV"
            local minor
            minor=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
            apt_install "python${minor}-venv" || apt_install python3-venv
            "$python" -m venv "$VENV"
        fi
    fi
    local stamp="$VENV/.installed" want
    want=$(sha256sum pyproject.toml | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        say "Installing sesshu and its dependencies…"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev]'
        echo "$want" > "$stamp"
    fi
}

demo() {
    setup
    if [ ! -f "$DEMO_STORE" ]; then
        mkdir -p "$(dirname "$DEMO_STORE")"
        "$VENV/bin/sesshu" --store "$DEMO_STORE" demo
    fi
    exec "$VENV/bin/sesshu" --store "$DEMO_STORE" "$@"
}

run_tests() {
    setup
    # The burn tests write to a file-backed drive with xorriso (they would be skipped without).
    command -v xorriso >/dev/null || { say "Installing xorriso…"; apt_install xorriso; }
    say "ruff check"
    "$VENV/bin/ruff" check .
    say "ruff format --check"
    "$VENV/bin/ruff" format --check .
    say "mypy --strict"
    "$VENV/bin/mypy"
    say "pytest"
    "$VENV/bin/python" -m pytest "$@"
}

case "${1:-}" in
    demo) shift; demo "$@" ;;
    test) shift; run_tests "$@" ;;
    *) echo "usage: ./dev.sh demo | ./dev.sh test" >&2; exit 2 ;;
esac
