#!/usr/bin/env bash
# Run the store with its demo catalog and the local Alipay sandbox:
#   http://127.0.0.1:8000/  (log in as demo / demo12345), sandbox cashier on :8090.
# Extra arguments go to server.py (e.g. --processes 0).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh runtime
SANDBOX_PORT=${SANDBOX_PORT:-8090}
export ALIPAY_GATEWAY=${ALIPAY_GATEWAY:-http://127.0.0.1:$SANDBOX_PORT/gateway.do}
export DADASHOP_ADMIN_KEY=${DADASHOP_ADMIN_KEY:-demo-admin-key}
export DADASHOP_LOG_FORMAT=${DADASHOP_LOG_FORMAT:-text}  # readable logs on a terminal
.venv/bin/python -m alipay_sandbox --port "$SANDBOX_PORT" &
SANDBOX_PID=$!
trap 'kill $SANDBOX_PID 2>/dev/null || true' EXIT
echo "[run-demo] merchant page: http://127.0.0.1:8000/static/admin.html (key: $DADASHOP_ADMIN_KEY)"
.venv/bin/python server.py --demo "$@"
