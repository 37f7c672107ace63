#!/usr/bin/env bash
# requirements.lock: requirements.txt's pins with their dependencies, every file hash-pinned
# (pip-tools), for installs that must get exactly the files we tested (deploy/Dockerfile):
#   pip install --require-hashes -r requirements.lock
# Run after changing requirements.txt (tests/test_packaging.py checks the two agree).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
    --no-emit-find-links --output-file=requirements.lock requirements.txt
