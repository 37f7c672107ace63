#!/usr/bin/env bash
# Set-up shared by scripts/run-demo.sh and scripts/test.sh: a virtualenv with the pinned
# dependencies, and MariaDB + Redis reachable. Used where they already run on the default ports;
# otherwise started project-locally from the installed server binaries (data under .data/);
# otherwise installed with apt-get when we are root; otherwise we say exactly what to install.
#
#   scripts/bootstrap.sh [runtime|dev] [--browser]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
MODE=${1:-runtime}
WANT_BROWSER=${2:-}
DATA="$ROOT/.data"
MYSQL_HOST=127.0.0.1
MYSQL_PORT=${BOOTSTRAP_MYSQL_PORT:-3306}  # other ports only to try the start-up path
REDIS_PORT=${BOOTSTRAP_REDIS_PORT:-6379}

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[bootstrap] %s\033[0m\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
APT_UPDATED=
apt_install() {
    is_root || return 1
    command -v apt-get >/dev/null || return 1
    if [ -z "$APT_UPDATED" ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 && APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

# ---- Python 3.11+ and the virtualenv
PYTHON=
for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        PYTHON=$candidate; break
    fi
done
[ -n "$PYTHON" ] || die "Python 3.11 or newer is needed (e.g. apt-get install python3 python3-venv)"
if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv || die "python venv failed: install python3-venv"
fi
REQUIREMENTS=requirements.txt
[ "$MODE" = dev ] && REQUIREMENTS=requirements-dev.txt
# requirements-dev.txt includes loadtest/requirements.txt: its changes count too
STAMP=".venv/.installed-$(cat requirements.txt "$REQUIREMENTS" loadtest/requirements.txt | sha1sum | cut -c1-12)-$MODE"
if [ ! -f "$STAMP" ]; then
    say "installing pinned dependencies ($REQUIREMENTS)"
    .venv/bin/python -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS" >&2
    touch "$STAMP"
fi

# ---- MariaDB / MySQL
start_local_mariadb() {
    local server
    server=$(command -v mariadbd || command -v mysqld || ls /usr/sbin/mariadbd /usr/sbin/mysqld 2>/dev/null | head -1 || true)
    [ -n "$server" ] || return 1
    mkdir -p "$DATA/mysql"
    if [ ! -d "$DATA/mysql/data/mysql" ]; then
        say "initialising a project-local MariaDB in .data/mysql"
        mariadb-install-db --no-defaults --datadir="$DATA/mysql/data" --user="$(id -un)" \
            --auth-root-authentication-method=normal --skip-test-db >"$DATA/mysql/install.log" 2>&1 \
            || die "mariadb-install-db failed, see .data/mysql/install.log"
    fi
    say "starting project-local MariaDB on $MYSQL_HOST:$MYSQL_PORT (data in .data/mysql)"
    "$server" --no-defaults --datadir="$DATA/mysql/data" --user="$(id -un)" --bind-address=$MYSQL_HOST \
        --port=$MYSQL_PORT --socket="$DATA/mysql/mysqld.sock" --pid-file="$DATA/mysql/mysqld.pid" \
        --log-error="$DATA/mysql/error.log" --innodb-flush-log-at-trx-commit=2 >/dev/null 2>&1 &
    for _ in $(seq 1 60); do port_open $MYSQL_PORT && return 0; sleep 0.5; done
    die "MariaDB did not start, see .data/mysql/error.log"
}
if ! port_open $MYSQL_PORT; then
    if ! start_local_mariadb; then
        say "no MariaDB server installed: installing mariadb-server"
        apt_install mariadb-server || die "MariaDB is not running on $MYSQL_HOST:$MYSQL_PORT and cannot be \
installed here. Install it (Debian/Ubuntu: sudo apt-get install mariadb-server) or set DADASHOP_MYSQL_URL."
        start_local_mariadb || die "MariaDB installed but could not be started"
    fi
fi

# ---- Redis
start_local_redis() {
    command -v redis-server >/dev/null || return 1
    mkdir -p "$DATA/redis"
    say "starting project-local Redis on 127.0.0.1:$REDIS_PORT (nothing kept on disk)"
    redis-server --daemonize yes --bind 127.0.0.1 --port $REDIS_PORT --save "" --appendonly no \
        --dir "$DATA/redis" --logfile "$DATA/redis/redis.log" >/dev/null
    for _ in $(seq 1 40); do port_open $REDIS_PORT && return 0; sleep 0.25; done
    die "Redis did not start, see .data/redis/redis.log"
}
if ! port_open $REDIS_PORT; then
    if ! start_local_redis; then
        say "no Redis server installed: installing redis-server"
        apt_install redis-server || die "Redis is not running on 127.0.0.1:$REDIS_PORT and cannot be installed \
here. Install it (Debian/Ubuntu: sudo apt-get install redis-server) or set DADASHOP_REDIS_URL."
        start_local_redis || die "Redis installed but could not be started"
    fi
fi

# ---- nginx for the deploy kit's tests (tests/test_deploy.py runs deploy/nginx in a real nginx)
if [ "$MODE" = dev ] && ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    say "installing Debian's nginx for the deploy kit's tests"
    apt_install nginx || say "could not install nginx (not root?): the nginx tests need it (apt-get install nginx)"
fi

# ---- headless Chromium for the browser tests
if [ "$WANT_BROWSER" = --browser ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
    say "installing Debian's chromium and chromium-driver (and a Chinese font) for the browser tests"
    apt_install chromium chromium-driver fonts-wqy-microhei || say "could not install chromium (not root?): the browser tests \
need /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)"
fi
say "ready: .venv, MariaDB on $MYSQL_HOST:$MYSQL_PORT, Redis on 127.0.0.1:$REDIS_PORT"
