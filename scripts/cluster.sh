#!/usr/bin/env bash
# The scale-out topology on one machine, over loopback (see docs/scale-out.md):
#   a 3-node MariaDB Galera cluster, HAProxy for SQL (one writer, the others backups, checked by a
#   clustercheck-style responder), a Redis Cluster (3 masters + 3 replicas), N service instances
#   (`server.py --processes 1`) and HAProxy for HTTP (round robin) in front of them.
# Everything lives under $CLUSTER_DIR (default .cluster/, ignored by git), on a block of 100 free
# loopback ports (never 3306 or 6379), and is stopped by the PIDs recorded there.
#
#   scripts/cluster.sh up [--instances N] [--instance-redis single|cluster] [--no-instances]
#   scripts/cluster.sh status                  # exit 0 only when everything is healthy
#   scripts/cluster.sh wait-healthy [SECONDS]  # until status is healthy (default 120 s)
#   scripts/cluster.sh urls                    # HTTP_URL=, MYSQL_URL=, REDIS_URL= lines
#   scripts/cluster.sh kill    db-writer | db-node N | redis-master | redis-node N | instance N
#   scripts/cluster.sh restart db-writer | db-node N | redis-master | redis-node N | instance N
#   scripts/cluster.sh down                    # stop everything started here, remove the data
#   scripts/cluster.sh prerequisites           # install what is missing (root), or exit 3 saying what
#
# Environment: CLUSTER_DIR, CLUSTER_BASE_PORT (first port of the block; default: the first free
# block from 24000), CLUSTER_HTTP_CHECK (the instances' health check path; default /healthz when
# the service answers it, else /static/index.html), CLUSTER_EVS_SUSPECT (Galera's
# evs.suspect_timeout, default PT3S on loopback), DADASHOP_* (passed on to the instances).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DIR=${CLUSTER_DIR:-$ROOT/.cluster}
MARK="$DIR/.dadashop-cluster"
NODES=3
REDIS_NODES=6
GALERA_PROVIDER=${GALERA_PROVIDER:-/usr/lib/galera/libgalera_smm.so}

say() { printf '\033[1m[cluster]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[cluster] %s\033[0m\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- ports
# One block of 100 ports, laid out from BASE (the same on every `up`, so a reader of the docs
# can find a process by its port):
#   +0 SQL proxy   +1 HTTP proxy   +10+i node i SQL   +20+i node i Galera   +30+i node i IST
#   +40+i node i SST   +50+i node i health responder   +60..65 Redis   +66 single Redis for the
#   instances   +70..75 Redis cluster bus   +80.. instances
load_ports() {
    [ -f "$DIR/ports.env" ] || die "no cluster here ($DIR): run scripts/cluster.sh up"
    # shellcheck disable=SC1091
    . "$DIR/ports.env"
}
sql_port() { echo $((BASE + 10 + $1)); }
galera_port() { echo $((BASE + 20 + $1)); }
ist_port() { echo $((BASE + 30 + $1)); }
sst_port() { echo $((BASE + 40 + $1)); }
check_port() { echo $((BASE + 50 + $1)); }
redis_port() { echo $((BASE + 59 + $1)); }       # redis node 1..6
redis_bus_port() { echo $((BASE + 69 + $1)); }
instance_port() { echo $((BASE + 79 + $1)); }    # instance 1..N
find_base_port() {
    python3 - "${1:-24000}" <<'EOF'
import socket, sys
start = int(sys.argv[1])
def free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
for base in range(start, 60000, 100):
    if all(free(p) for p in range(base, base + 100)):
        print(base)
        break
else:
    sys.exit("no block of 100 free ports")
EOF
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() {  # wait_for SECONDS CONDITION: until the shell condition holds
    local deadline=$((SECONDS + $1))
    until eval "$2"; do [ $SECONDS -lt $deadline ] || return 1; sleep 0.2; done
}

# ---------------------------------------------------------------- processes (by PID, never by name)
# Each started process is recorded as "PID STARTTIME" in $DIR/pids/NAME, so a recycled PID is
# never signalled.
start_time_of() { awk '{ print $22 }' "/proc/$1/stat" 2>/dev/null; }
spawn() {  # spawn NAME LOGFILE COMMAND...: start detached, record the PID
    local name=$1 log=$2; shift 2
    mkdir -p "$DIR/pids"
    setsid "$@" >>"$log" 2>&1 </dev/null &
    local pid=$!
    echo "$pid $(start_time_of $pid)" >"$DIR/pids/$name"
}
pid_of() {  # the PID of NAME if it is still the process we started
    local file="$DIR/pids/$1" pid started
    [ -f "$file" ] || return 1
    read -r pid started <"$file"
    [ -n "$pid" ] && [ "$(start_time_of "$pid")" = "$started" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" \
        && echo "$pid"
}
alive() { pid_of "$1" >/dev/null; }
signal_process() {  # signal_process NAME SIGNAL [WAIT_SECONDS]
    local pid
    pid=$(pid_of "$1") || return 0
    kill "-$2" "$pid" 2>/dev/null || true
    for _ in $(seq 1 $((${3:-10} * 10))); do alive "$1" || return 0; sleep 0.1; done
    return 1
}
session_members() { ps -eo pid=,sid= | awk -v s="$1" '$2 == s && $1 != s { print $1 }'; }
stop_process() {  # stop_process NAME [WAIT_SECONDS]: TERM, then KILL; then what it left in its session
    local leader members pid
    if leader=$(pid_of "$1"); then
        # spawn made it a session leader: helpers it started (an SST's socat and mariabackup, a
        # worker) are in its session and must not outlive it
        members=$(session_members "$leader")
        signal_process "$1" TERM "${2:-10}" || signal_process "$1" KILL 5 || true
        for pid in $members; do
            [ "$(ps -o sid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$leader" ] && kill -KILL "$pid" 2>/dev/null || true
        done
    fi
    rm -f "$DIR/pids/$1"
}

# ---------------------------------------------------------------- packages
APT_UPDATED=
apt_install() {
    is_root && command -v apt-get >/dev/null || return 1
    if [ -z "$APT_UPDATED" ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 && APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}
missing_packages() {
    command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || echo mariadb-server
    [ -f "$GALERA_PROVIDER" ] || echo galera-4
    command -v mariabackup >/dev/null || echo mariadb-backup
    command -v socat >/dev/null || echo socat  # mariabackup SST streams over socat
    command -v haproxy >/dev/null || echo haproxy
    command -v redis-server >/dev/null || echo redis-server
    command -v redis-cli >/dev/null || echo redis-tools
    command -v mariadb >/dev/null || echo mariadb-client
}
ensure_packages() {
    local missing
    missing=$(missing_packages | xargs)
    [ -z "$missing" ] && return 0
    if is_root && command -v apt-get >/dev/null; then
        say "installing $missing"
        # shellcheck disable=SC2086
        apt_install $missing || true
        missing=$(missing_packages | xargs)
        [ -z "$missing" ] && return 0
    fi
    printf '\033[31m[cluster] missing: %s. Install them (Debian/Ubuntu: sudo apt-get install %s) and run again.\033[0m\n' \
        "$missing" "$missing" >&2
    exit 3
}

# ---------------------------------------------------------------- MariaDB Galera
MARIADBD=$(command -v mariadbd || echo /usr/sbin/mariadbd)
node_dir() { echo "$DIR/db$1"; }
node_sql() {  # node_sql N SQL: one value per line, no headers
    mariadb --no-defaults -S "$(node_dir "$1")/mysqld.sock" -uroot --connect-timeout=2 -N -B -e "$2" 2>/dev/null
}
node_status() { node_sql "$1" "SHOW GLOBAL STATUS LIKE '$2'" | cut -f2; }
write_node_config() {
    local i=$1 d members="" donors="" j
    d=$(node_dir "$i")
    for j in $(seq 1 $NODES); do
        members+="${members:+,}127.0.0.1:$(galera_port "$j")"
        [ "$j" = "$i" ] || donors+="node$j,"
    done
    mkdir -p "$d/data"
    cat >"$d/my.cnf" <<EOF
# Galera node $i of the loopback cluster (written by scripts/cluster.sh; see docs/scale-out.md)
[mysqld]
user=$(id -un)
datadir=$d/data
socket=$d/mysqld.sock
pid-file=$d/mysqld.pid
log-error=$d/error.log
bind-address=127.0.0.1
port=$(sql_port "$i")
skip-name-resolve
character-set-server=utf8mb4
collation-server=utf8mb4_unicode_ci
innodb_buffer_pool_size=64M
# Galera needs row events, InnoDB and interleaved auto-increment locks
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
# durability comes from the other nodes holding the write set; fsync per commit is not needed
innodb_flush_log_at_trx_commit=2
wsrep_on=ON
wsrep_provider=$GALERA_PROVIDER
wsrep_cluster_name=dadashop
wsrep_cluster_address=gcomm://$members
wsrep_node_name=node$i
wsrep_node_address=127.0.0.1:$(galera_port "$i")
wsrep_node_incoming_address=127.0.0.1:$(sql_port "$i")
wsrep_sst_method=mariabackup
wsrep_sst_auth=root:
wsrep_sst_receive_address=127.0.0.1:$(sst_port "$i")
# donor preference; the trailing comma lets any other node donate when these cannot
wsrep_sst_donor=$donors
# wsrep_auto_increment_control (default ON) sets auto_increment_increment to the cluster size
wsrep_slave_threads=2
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:$(galera_port "$i");ist.recv_addr=127.0.0.1:$(ist_port "$i");gcache.size=128M;evs.suspect_timeout=${CLUSTER_EVS_SUSPECT:-PT3S};evs.inactive_timeout=PT8S;evs.install_timeout=PT5S"

[sst]
# the SST scripts keep their logs here, not in /tmp/sst_log_archive
sst-log-archive-dir=$d/sst-log-archive
EOF
}
start_node() {  # start_node N [extra mariadbd options]
    local i=$1 d; shift
    d=$(node_dir "$i")
    spawn "db$i" "$d/stdout.log" "$MARIADBD" --defaults-file="$d/my.cnf" "$@"
}
wait_node_synced() {  # wait_node_synced N SECONDS
    local i=$1 deadline=$((SECONDS + $2))
    while [ $SECONDS -lt $deadline ]; do
        [ "$(node_status "$i" wsrep_local_state)" = 4 ] && return 0
        alive "db$i" || { tail -20 "$(node_dir "$i")/error.log" >&2; die "node $i exited, see $(node_dir "$i")/error.log"; }
        sleep 0.3
    done
    die "node $i not synced after $2 s, see $(node_dir "$i")/error.log"
}
recover_and_start_node() {
    # A node that was killed rejoins by IST (only the write sets it missed, from a donor's
    # gcache) when it knows its last committed position: --wsrep-recover reads it from InnoDB,
    # --wsrep-start-position hands it to Galera. Without it the node would need a full SST.
    local i=$1 d position
    d=$(node_dir "$i")
    alive "db$i" && die "db node $i is running"
    "$MARIADBD" --defaults-file="$d/my.cnf" --wsrep-recover --log-error="$d/recover.log" >/dev/null 2>&1 || true
    position=$(sed -n 's/.*WSREP: Recovered position: *\([^ ]*\).*/\1/p' "$d/recover.log" | tail -1)
    [ -n "$position" ] || die "node $i: no recovered position in $d/recover.log"
    say "node $i: recovered position $position, rejoining"
    echo "--- restart $(date -u +%FT%TZ) from $position" >>"$d/error.log"
    start_node "$i" --wsrep-start-position="$position"
}
start_galera() {
    local t i d
    t=$(now)
    for i in $(seq 1 $NODES); do write_node_config "$i"; done
    d=$(node_dir 1)
    mariadb-install-db --no-defaults --datadir="$d/data" --user="$(id -un)" --auth-root-authentication-method=normal \
        --skip-test-db >"$d/install.log" 2>&1 || die "mariadb-install-db failed, see $d/install.log"
    say "Galera: bootstrapping node 1 on port $(sql_port 1)"
    start_node 1 --wsrep-new-cluster
    wait_node_synced 1 60
    # the joiners start empty and get node 1's data by SST (mariabackup), one after the other:
    # a donor serves one SST at a time
    for i in $(seq 2 $NODES); do
        say "Galera: node $i joins by SST on port $(sql_port "$i")"
        start_node "$i"
        wait_node_synced "$i" 120
    done
    say "Galera: $NODES nodes synced in $(elapsed "$t") s"
}

# ---------------------------------------------------------------- health responders + HAProxy
start_checks() {
    local i
    for i in $(seq 1 $NODES); do
        spawn "check$i" "$(node_dir "$i")/check.log" python3 "$ROOT/scripts/clustercheck.py" \
            --listen "127.0.0.1:$(check_port "$i")" --socket "$(node_dir "$i")/mysqld.sock"
    done
}
haproxy_global() {  # haproxy_global NAME: the common head of both HAProxy configurations
    cat <<EOF
# written by scripts/cluster.sh; see docs/scale-out.md
global
    maxconn 4096
    stats socket $DIR/$1.sock mode 600 level admin

defaults
    timeout connect 2s
    timeout check 2s
    default-server inter 1s fall 2 rise 2
EOF
}
write_sql_proxy_config() {
    local i
    {
        haproxy_global haproxy-sql
        cat <<EOF

# SQL: one writer at a time (certification conflicts otherwise), the other nodes as backups.
# A node is in only while its responder says Synced; sessions on a node that goes down are cut,
# and when the first node comes back, the sessions left on a backup are cut too (never two writers).
listen sql
    bind 127.0.0.1:$((BASE + 0))
    mode tcp
    option tcpka
    timeout client 1h
    timeout server 1h
    option httpchk
    http-check send meth GET uri /
    http-check expect status 200
EOF
        for i in $(seq 1 $NODES); do
            printf '    server node%s 127.0.0.1:%s check port %s on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions%s\n' \
                "$i" "$(sql_port "$i")" "$(check_port "$i")" "$([ "$i" = 1 ] || echo ' backup')"
        done
    } >"$DIR/haproxy-sql.cfg"
}
write_http_proxy_config() {  # write_http_proxy_config CHECK_PATH
    local i check_path=$1 n
    n=$(instance_count)
    {
        haproxy_global haproxy-http
        cat <<EOF

# HTTP: round robin over the instances. The proxy, not the client, says who the client is.
listen http
    bind 127.0.0.1:$((BASE + 1))
    mode http
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout http-keep-alive 10s
    balance roundrobin
    option redispatch
    retries 2
    http-request set-header X-Real-IP %[src]
    http-request set-header X-Forwarded-For %[src]
    http-request set-header X-Forwarded-Proto http
    http-request del-header X-Scheme
    option httpchk
    http-check send meth GET uri $check_path
    http-check expect status 200
EOF
        for i in $(seq 1 "$n"); do
            printf '    server instance%s 127.0.0.1:%s check\n' "$i" "$(instance_port "$i")"
        done
    } >"$DIR/haproxy-http.cfg"
}
start_haproxy() {  # start_haproxy sql|http PORT
    local name=haproxy-$1
    haproxy -c -q -f "$DIR/$name.cfg" || die "bad HAProxy configuration $DIR/$name.cfg"
    spawn "$name" "$DIR/$name.log" haproxy -db -f "$DIR/$name.cfg"
    for _ in $(seq 1 50); do port_open "$2" && return 0; sleep 0.1; done
    die "HAProxy did not start, see $DIR/$name.log"
}
haproxy_cmd() {  # haproxy_cmd sql|http COMMAND: a command on that HAProxy's admin socket
    python3 - "$DIR/haproxy-$1.sock" "$2" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while chunk := s.recv(65536):
    out += chunk
sys.stdout.write(out.decode())
EOF
}
server_states() {  # "proxy server status" lines, as both HAProxies see them
    { haproxy_cmd sql "show stat"; haproxy_cmd http "show stat"; } 2>/dev/null \
        | awk -F, '!/^#/ && $2 != "FRONTEND" && $2 != "BACKEND" && NF > 17 { print $1, $2, $18 }'
}
wait_sql_proxy() {  # until SQL through the proxy reaches a node
    local deadline=$((SECONDS + $1))
    until mariadb --no-defaults -h 127.0.0.1 -P $((BASE + 0)) -uroot --connect-timeout=2 -e "SELECT 1" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}
current_writer() {  # the node HAProxy sends SQL to: the first UP server, non-backup first
    local state
    state=$(server_states | awk '$1 == "sql" && $3 == "UP" { print $2 }')
    echo "$state" | grep -m1 -x node1 || echo "$state" | head -1
}

# ---------------------------------------------------------------- Redis Cluster
redis_dir() { echo "$DIR/redis$1"; }
start_redis_node() {
    local i=$1 d
    d=$(redis_dir "$i")
    mkdir -p "$d"
    spawn "redis$i" "$d/stdout.log" redis-server --bind 127.0.0.1 --port "$(redis_port "$i")" \
        --cluster-enabled yes --cluster-port "$(redis_bus_port "$i")" --cluster-config-file "$d/nodes.conf" \
        --cluster-node-timeout "${CLUSTER_REDIS_NODE_TIMEOUT:-2000}" --save "" --appendonly no \
        --dir "$d" --logfile "$d/redis.log" --daemonize no
}
start_redis_cluster() {
    local t i addresses=()
    t=$(now)
    for i in $(seq 1 $REDIS_NODES); do start_redis_node "$i"; addresses+=("127.0.0.1:$(redis_port "$i")"); done
    for i in $(seq 1 $REDIS_NODES); do
        for _ in $(seq 1 50); do port_open "$(redis_port "$i")" && break; sleep 0.1; done
    done
    redis-cli --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes >"$DIR/redis-create.log" 2>&1 \
        || { cat "$DIR/redis-create.log" >&2; die "redis-cli --cluster create failed"; }
    wait_redis_ok 30 || die "Redis Cluster not ok after 30 s"
    say "Redis Cluster: 3 masters + 3 replicas on ports $(redis_port 1)-$(redis_port 6) in $(elapsed "$t") s"
}
redis_alive_port() {  # the port of a Redis node that answers
    local i
    for i in $(seq 1 $REDIS_NODES); do
        alive "redis$i" && redis-cli -p "$(redis_port "$i")" ping >/dev/null 2>&1 && { redis_port "$i"; return 0; }
    done
    return 1
}
redis_cluster_ok() {  # every running node says cluster_state:ok, and every master has a replica
    local i port masters replicas
    for i in $(seq 1 $REDIS_NODES); do
        alive "redis$i" || continue
        redis-cli -p "$(redis_port "$i")" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
    done
    port=$(redis_alive_port) || return 1
    masters=$(redis-cli -p "$port" cluster nodes | awk '$3 ~ /master/ && $3 !~ /fail/ && NF > 8' | wc -l)
    replicas=$(redis-cli -p "$port" cluster nodes | awk '$3 ~ /slave/ && $3 !~ /fail/ && $8 == "connected"' | wc -l)
    [ "$masters" = 3 ] && [ "$replicas" -ge 3 ]
}
wait_redis_ok() { local deadline=$((SECONDS + $1)); until redis_cluster_ok; do [ $SECONDS -lt $deadline ] || return 1; sleep 0.3; done; }
redis_node_of_port() { echo $(($1 - BASE - 59)); }
a_redis_master() {  # the number of a running master node (serving slots)
    local port
    port=$(redis_alive_port) || return 1
    redis-cli -p "$port" cluster nodes | awk '$3 ~ /master/ && $3 !~ /fail/ && NF > 8 { split($2, a, "[:@]"); print a[2] }' \
        | while read -r p; do n=$(redis_node_of_port "$p"); alive "redis$n" && echo "$n"; done | head -1
}

# ---------------------------------------------------------------- service instances
instance_count() { cat "$DIR/instances" 2>/dev/null || echo 0; }
instance_python() {
    [ -x "$ROOT/.venv/bin/python" ] && { echo "$ROOT/.venv/bin/python"; return 0; }
    return 1
}
start_instance() {
    local i=$1 py
    py=$(instance_python) || { say "no .venv: run scripts/bootstrap.sh first; instance $i not started"; return 1; }
    # the instance gets this script's whole environment (DADASHOP_* included), with the
    # cluster's addresses instead of any given ones; behind HAProxy, which sets X-Real-IP and
    # X-Forwarded-For itself, the instances take the client's address from them
    spawn "instance$i" "$DIR/instance$i.log" env \
        DADASHOP_MYSQL_URL="$MYSQL_URL" DADASHOP_REDIS_URL="$INSTANCE_REDIS_URL" \
        DADASHOP_PORT="$(instance_port "$i")" DADASHOP_PUBLIC_URL="${DADASHOP_PUBLIC_URL:-$HTTP_URL}" \
        DADASHOP_TRUST_PROXY=1 \
        "$py" "$ROOT/server.py" --processes 1
}
http_status() { python3 - "$1" <<'EOF'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as answer:
        print(answer.status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print(0)
EOF
}
wait_instances() {  # wait until every instance answers (or exited); echo how many answer
    local n=$1 path=$2 deadline=$((SECONDS + 90)) up i
    while :; do
        up=0
        for i in $(seq 1 "$n"); do
            [ "$(http_status "http://127.0.0.1:$(instance_port "$i")$path")" = 200 ] && up=$((up + 1))
        done
        [ "$up" = "$n" ] && break
        local running=0
        for i in $(seq 1 "$n"); do alive "instance$i" && running=$((running + 1)); done
        [ "$running" = 0 ] || [ $SECONDS -ge $deadline ] && break
        sleep 0.5
    done
    echo "$up"
}
check_path() {
    [ -n "${CLUSTER_HTTP_CHECK:-}" ] && { echo "$CLUSTER_HTTP_CHECK"; return; }
    cat "$DIR/http-check" 2>/dev/null || echo /healthz
}

# ---------------------------------------------------------------- commands
print_urls() {
    cat "$DIR/urls.env"
}
cmd_up() {
    local instances=2 instance_redis=single t i up path
    while [ $# -gt 0 ]; do
        case $1 in
            --instances) instances=$2; shift 2 ;;
            --instances=*) instances=${1#*=}; shift ;;
            --no-instances) instances=0; shift ;;
            --instance-redis) instance_redis=$2; shift 2 ;;
            --instance-redis=*) instance_redis=${1#*=}; shift ;;
            *) die "unknown option $1 (up [--instances N] [--no-instances] [--instance-redis single|cluster])" ;;
        esac
    done
    case $instance_redis in single|cluster) ;; *) die "--instance-redis is single or cluster" ;; esac
    [ "$instances" -le 19 ] 2>/dev/null || die "--instances is a number from 0 to 19"
    [ -f "$DIR/ports.env" ] && die "a cluster already runs from $DIR (scripts/cluster.sh down first)"
    if [ -d "$DIR" ] && [ -n "$(ls -A "$DIR")" ] && [ ! -f "$MARK" ]; then
        die "$DIR exists and was not made by this script: choose another CLUSTER_DIR"
    fi
    t=$(now)
    ensure_packages
    mkdir -p "$DIR"
    touch "$MARK"
    # a failed `up` leaves what it started (and its logs) for `down`
    trap '[ $? = 0 ] || say "up failed: the logs are in $DIR; scripts/cluster.sh down stops what was started"' EXIT
    BASE=${CLUSTER_BASE_PORT:-$(find_base_port)}
    [ "$BASE" -gt 6379 ] || [ $((BASE + 99)) -lt 3306 ] || die "CLUSTER_BASE_PORT must keep clear of 3306 and 6379"
    MYSQL_URL="mysql://root:@127.0.0.1:$((BASE + 0))/dadashop"
    HTTP_URL="http://127.0.0.1:$((BASE + 1))"
    # the Redis Cluster URL: one seed node, the `redis+cluster` scheme says "discover the cluster"
    REDIS_URL="redis+cluster://127.0.0.1:$(redis_port 1)/0"
    if [ "$instance_redis" = cluster ]; then INSTANCE_REDIS_URL=$REDIS_URL
    else INSTANCE_REDIS_URL="redis://127.0.0.1:$((BASE + 66))/0"; fi
    cat >"$DIR/ports.env" <<EOF
BASE=$BASE
MYSQL_URL=$MYSQL_URL
HTTP_URL=$HTTP_URL
REDIS_URL=$REDIS_URL
INSTANCE_REDIS_URL=$INSTANCE_REDIS_URL
EOF
    printf 'HTTP_URL=%s\nMYSQL_URL=%s\nREDIS_URL=%s\nINSTANCE_REDIS_URL=%s\n' \
        "$HTTP_URL" "$MYSQL_URL" "$REDIS_URL" "$INSTANCE_REDIS_URL" >"$DIR/urls.env"
    echo "$instances" >"$DIR/instances"
    say "ports $BASE-$((BASE + 99)), data in $DIR"

    start_redis_cluster &  # Redis comes up while Galera does its SSTs
    local redis_job=$!
    start_galera
    start_checks
    # HAProxy's first checks must find the responders answering: otherwise the backups may come
    # UP before node 1, take the first sessions, and have them cut when node 1 comes UP
    for i in $(seq 1 $NODES); do
        wait_for 30 "[ \"\$(http_status http://127.0.0.1:$(check_port "$i")/)\" = 200 ]" \
            || die "the health responder of node $i does not answer 200 (see $(node_dir "$i")/check.log)"
    done
    write_sql_proxy_config
    start_haproxy sql $((BASE + 0))
    wait_for 30 '[ "$(server_states | grep -c "^sql node[0-9]* UP$")" = $NODES ]' \
        || die "HAProxy does not see the $NODES nodes UP (see $DIR/haproxy-sql.log)"
    wait_sql_proxy 30 || die "no SQL through the proxy"
    wait "$redis_job" || die "Redis Cluster did not come up"
    if [ "$instance_redis" = single ]; then
        mkdir -p "$DIR/redis-single"
        spawn redis-single "$DIR/redis-single/stdout.log" redis-server --bind 127.0.0.1 --port $((BASE + 66)) \
            --save "" --appendonly no --dir "$DIR/redis-single" --logfile "$DIR/redis-single/redis.log" --daemonize no
    fi

    path=${CLUSTER_HTTP_CHECK:-/healthz}
    if [ "$instances" -gt 0 ]; then
        for i in $(seq 1 "$instances"); do start_instance "$i" || true; done
        up=$(wait_instances "$instances" /static/index.html)
        if [ -z "${CLUSTER_HTTP_CHECK:-}" ] && [ "$up" -gt 0 ] \
                && [ "$(http_status "http://127.0.0.1:$(instance_port 1)/healthz")" != 200 ]; then
            path=/static/index.html  # the service has no /healthz yet: a static page, which touches no database
        fi
        [ "$up" = "$instances" ] || say "WARNING: $up of $instances instances answer (see $DIR/instance*.log)"
    fi
    echo "$path" >"$DIR/http-check"
    write_http_proxy_config "$path"
    start_haproxy http $((BASE + 1))
    say "up in $(elapsed "$t") s (HTTP health check: GET $path)"
    echo "$(elapsed "$t")" >"$DIR/up-seconds"
    print_urls
}

cmd_status() {
    load_ports
    local healthy=0 i state size name pid states
    states=$(server_states || true)
    echo "Galera:"
    for i in $(seq 1 $NODES); do
        if alive "db$i"; then
            state=$(node_status "$i" wsrep_local_state_comment); size=$(node_status "$i" wsrep_cluster_size)
            printf '  node%s  port %s  %-10s cluster_size=%s  proxy=%s\n' "$i" "$(sql_port "$i")" "${state:-?}" \
                "${size:-?}" "$(echo "$states" | awk -v s="node$i" '$1 == "sql" && $2 == s { print $3 }')"
            [ "$state" = Synced ] && [ "$size" = $NODES ] || healthy=1
        else
            printf '  node%s  port %s  DOWN\n' "$i" "$(sql_port "$i")"; healthy=1
        fi
        alive "check$i" || { echo "  health responder of node$i is DOWN"; healthy=1; }
    done
    echo "  writer (HAProxy): $(current_writer || true)"
    echo "Redis Cluster:"
    if port=$(redis_alive_port); then
        redis-cli -p "$port" cluster nodes | awk '{ split($2, a, "@"); printf "  %-16s %-22s %s %s\n", a[1], $3, $8, $9 }' | sort
        redis-cli -p "$port" cluster info | grep -E '^cluster_(state|known_nodes|size):' | sed 's/^/  /' | tr -d '\r'
    else
        echo "  no node answers"
    fi
    for i in $(seq 1 $REDIS_NODES); do alive "redis$i" || { echo "  redis node $i (port $(redis_port "$i")) DOWN"; healthy=1; }; done
    redis_cluster_ok || healthy=1
    echo "Instances (HTTP check GET $(check_path)):"
    for i in $(seq 1 "$(instance_count)"); do
        if alive "instance$i"; then
            printf '  instance%s  port %s  running  proxy=%s\n' "$i" "$(instance_port "$i")" \
                "$(echo "$states" | awk -v s="instance$i" '$1 == "http" && $2 == s { print $3 }')"
            echo "$states" | grep -qx "http instance$i UP" || healthy=1
        else
            printf '  instance%s  port %s  DOWN\n' "$i" "$(instance_port "$i")"; healthy=1
        fi
    done
    alive haproxy-sql || { echo "HAProxy for SQL DOWN"; healthy=1; }
    alive haproxy-http || { echo "HAProxy for HTTP DOWN"; healthy=1; }
    for name in $(echo "$states" | awk '$1 == "sql" && $3 != "UP" { print $2 }'); do healthy=1; done
    print_urls
    if [ $healthy = 0 ]; then echo "HEALTHY"; else echo "DEGRADED"; fi
    return $healthy
}

cmd_wait_healthy() {
    local limit=${1:-120} deadline
    deadline=$((SECONDS + limit))
    until cmd_status >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || { cmd_status || true; die "not healthy after $limit s"; }
        sleep 0.5
    done
    say "healthy"
}

resolve_target() {  # resolve_target kill|restart WHAT [N] -> "KIND NUMBER"
    local action=$1 what=${2:-} n=${3:-}
    case $what in
        db-writer)
            if [ "$action" = kill ]; then n=$(current_writer | tr -dc 0-9); [ -n "$n" ] || die "no writer UP"
                echo "$n" >"$DIR/last-db-writer"
            else n=$(cat "$DIR/last-db-writer" 2>/dev/null) || die "no writer was killed"; fi
            echo "db $n" ;;
        db-node) [ -n "$n" ] && [ "$n" -ge 1 ] && [ "$n" -le $NODES ] || die "db-node 1..$NODES"; echo "db $n" ;;
        redis-master)
            if [ "$action" = kill ]; then n=$(a_redis_master); [ -n "$n" ] || die "no Redis master running"
                echo "$n" >"$DIR/last-redis-master"
            else n=$(cat "$DIR/last-redis-master" 2>/dev/null) || die "no Redis master was killed"; fi
            echo "redis $n" ;;
        redis-node) [ -n "$n" ] && [ "$n" -ge 1 ] && [ "$n" -le $REDIS_NODES ] || die "redis-node 1..$REDIS_NODES"
            echo "redis $n" ;;
        instance) [ -n "$n" ] && [ "$n" -ge 1 ] && [ "$n" -le "$(instance_count)" ] || die "instance 1..$(instance_count)"
            echo "instance $n" ;;
        *) die "$action what? db-writer | db-node N | redis-master | redis-node N | instance N" ;;
    esac
}
cmd_kill() {
    load_ports
    local kind n
    read -r kind n <<<"$(resolve_target kill "$@")"
    alive "$kind$n" || die "$kind $n is not running"
    signal_process "$kind$n" KILL 5 || die "$kind $n did not die"
    say "killed $kind $n (SIGKILL) at $(date -u +%T.%3N)"
    echo "$kind $n"
}
cmd_restart() {
    load_ports
    local kind n
    read -r kind n <<<"$(resolve_target restart "$@")"
    if alive "$kind$n"; then stop_process "$kind$n" 20; fi
    case $kind in
        db) recover_and_start_node "$n"; wait_node_synced "$n" 120; say "db node $n synced" ;;
        redis) start_redis_node "$n"
            for _ in $(seq 1 50); do port_open "$(redis_port "$n")" && break; sleep 0.1; done
            say "redis node $n restarted (rejoins as a replica if it lost its slots)" ;;
        instance) start_instance "$n"
            [ "$(wait_instances_one "$n")" = 200 ] || die "instance $n does not answer, see $DIR/instance$n.log"
            say "instance $n answers" ;;
    esac
}
wait_instances_one() {
    local deadline=$((SECONDS + 60)) code
    while [ $SECONDS -lt $deadline ]; do
        code=$(http_status "http://127.0.0.1:$(instance_port "$1")/static/index.html")
        [ "$code" = 200 ] && break
        alive "instance$1" || break
        sleep 0.3
    done
    echo "$code"
}

cmd_down() {
    [ -d "$DIR" ] || { say "nothing to stop ($DIR does not exist)"; return 0; }
    [ -f "$MARK" ] || die "$DIR was not made by this script: not touching it"
    local name
    # instances first (they drain), then the proxies, then the stores
    for name in $(ls "$DIR/pids" 2>/dev/null | sort -r); do
        case $name in instance*) stop_process "$name" 10 & ;; esac
    done
    wait
    for name in $(ls "$DIR/pids" 2>/dev/null); do stop_process "$name" 10 & done
    wait
    [ -z "$(ls "$DIR/pids" 2>/dev/null)" ] || die "some processes could not be stopped: $(ls "$DIR/pids")"
    rm -rf "$DIR"
    say "stopped and removed $DIR"
}

case ${1:-} in
    up) shift; cmd_up "$@" ;;
    prerequisites) ensure_packages ;;  # install what is missing; exit 3 when that cannot be done here
    status) shift; cmd_status "$@" ;;
    wait-healthy) shift; load_ports; cmd_wait_healthy "$@" ;;
    urls) load_ports; print_urls ;;
    kill) shift; cmd_kill "$@" ;;
    restart) shift; cmd_restart "$@" ;;
    down) cmd_down ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
