#!/usr/bin/env bash
# The whole test suite on real MariaDB and Redis (and headless Chromium), then the linter.
# Each run uses a database and a Redis index of its own. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh dev --browser
.venv/bin/python -m pytest "$@"
.venv/bin/python -m flake8
