#!/usr/bin/env bash
# A new user's first contact, checked on every CI run: clone the repository into a temporary
# folder, create a fresh virtual environment (only what the README's command installs is there),
# run the README's first set-up command verbatim, then
#   - decode the video it wrote (frame count, size, frames that change),
#   - import every module of viewgen outside the optional extras.
# A package that is present only because a test extra or an earlier install brought it fails here.
set -euo pipefail
repo_root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

setup_command=$(grep -m1 -E '^pip install' "$repo_root/README.md")
echo "+ (fresh clone, fresh venv) $setup_command"
git clone --quiet "$repo_root" "$work/viewgen"
python -m venv "$work/venv"
(
    cd "$work/viewgen"
    # shellcheck disable=SC1091
    source "$work/venv/bin/activate"
    unset PYTHONPATH
    python -m pip install --quiet --upgrade pip
    bash -c "$setup_command" 2>"$work/stderr.log" | tee "$work/stdout.log" || {
        tail -n 30 "$work/stderr.log"; exit 1; }
    cd "$work"   # import the installed package, not the clone's source folder
    python "$repo_root/.ci/check_fresh_flight.py" --workdir "$work/viewgen" --summary "$work/stdout.log"
)
