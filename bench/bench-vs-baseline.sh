#!/usr/bin/env bash
# Side by side, in one run on this machine: `mysql-tls-proxy bench` vs the minimal raw client
# (bench/raw-tls-baseline.js) vs sysbench (if installed), all doing full MySQL TLS connections
# (connect, TLS, login, quit) against the proxy in front of a throwaway MariaDB.
#
#   [ROUNDS=2] bench/bench-vs-baseline.sh [CONCURRENCY=16] [SECONDS=10]
#
# Needs mariadb-server (mariadbd, mariadb-install-db) and mariadb-client; sysbench is optional
# (apt-get install -y sysbench). Set KEEP=1 to leave the servers running and print how to reach them.
set -euo pipefail
cd "$(dirname "$0")/.."
C=${1:-16}
D=${2:-10}
ROOT=$PWD
CLI="$ROOT/dist/cli/index.js"

npm run build --silent >/dev/null

tmp=$(mktemp -d /tmp/mtp-bench-XXXXXX)
pids=()
cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then return; fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
wait_port() { for _ in $(seq 1 200); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

# --- MariaDB (plain TCP; the proxy does TLS) ---------------------------------------------------
db_port=$(free_port)
mariadb-install-db --no-defaults --datadir="$tmp/data" --auth-root-authentication-method=socket \
  --skip-test-db --user="$(id -un)" --innodb-buffer-pool-size=32M --innodb-log-file-size=16M >/dev/null
/usr/sbin/mariadbd --no-defaults --user="$(id -un)" --datadir="$tmp/data" --port="$db_port" \
  --bind-address=127.0.0.1 --socket="$tmp/mysqld.sock" --pid-file="$tmp/mysqld.pid" \
  --log-error="$tmp/error.log" --skip-log-bin --innodb-buffer-pool-size=32M --innodb-log-file-size=16M \
  --max-connections=4000 --max-connect-errors=1000000 --skip-name-resolve &
pids+=($!)
wait_port "$db_port"
for _ in $(seq 1 100); do mariadb --no-defaults --socket="$tmp/mysqld.sock" -uroot -e 'select 1' >/dev/null 2>&1 && break; sleep 0.1; done
mariadb --no-defaults --socket="$tmp/mysqld.sock" -uroot -e \
  "CREATE USER bench@'%' IDENTIFIED BY 'bench-secret'; GRANT ALL ON *.* TO bench@'%'"

# --- the proxy ---------------------------------------------------------------------------------
proxy_port=$(free_port)
mkdir -p "$tmp/proxy"
(cd "$tmp/proxy" && exec node "$CLI" serve --listen "127.0.0.1:$proxy_port" --backend "127.0.0.1:$db_port" \
  --status off --log-level warn >"$tmp/proxy.log" 2>&1) &
pids+=($!)
wait_port "$proxy_port"
CA="$tmp/proxy/certs/ca.pem"
TARGET="127.0.0.1:$proxy_port"
if [ "${KEEP:-0}" = 1 ]; then echo "MariaDB 127.0.0.1:$db_port, proxy $TARGET, CA $CA, user bench / bench-secret"; fi

conns() { mariadb --no-defaults --socket="$tmp/mysqld.sock" -uroot -N -e "show global status like 'Connections'" | awk '{print $2}'; }

echo "== full MySQL TLS connections to the proxy ($TARGET -> MariaDB $db_port), concurrency $C, ${D}s each, $(nproc) cores =="
run() { # name, command...
  local name=$1
  shift
  local before after
  before=$(conns)
  local out
  out=$("$@")
  after=$(conns)
  echo "$out" | node -e '
    const [name, backend] = process.argv.slice(1);
    const r = JSON.parse(require("fs").readFileSync(0, "utf8").trim().split("\n").pop());
    const pad = (s, n) => String(s).padEnd(n);
    console.log(pad(name, 20) + pad(r.rate + " conn/s", 18) + pad(r.connections + " ok / " + r.errors + " failed", 22) +
      pad("client CPU " + r.cpu_s + " s", 22) + r.connections_per_cpu_s + " conn per client CPU s   (MariaDB Connections +" + backend + ")");
  ' "$name" "$((after - before))"
}

sysbench_run() {
  # sysbench 1.0's --mysql-ssl=on loads cacert.pem, client-cert.pem and client-key.pem from the
  # current directory; the proxy does not ask for the client certificate, so any will do.
  local before after out events cpu
  before=$(conns)
  TIMEFORMAT='%U %S'
  out=$(cd "$tmp/sysbench" && { time sysbench "$ROOT/bench/sysbench-connect.lua" --db-driver=mysql \
    --mysql-host=127.0.0.1 --mysql-port="$proxy_port" --mysql-user=bench --mysql-password=bench-secret \
    --mysql-db=sbtest --mysql-ssl=on --threads="$C" --time="$D" --events=0 run 2>&1; } 2>&1) || true
  after=$(conns)
  events=$(echo "$out" | awk '/total number of events/ {print $NF}')
  cpu=$(echo "$out" | tail -1 | awk '{print $1+$2}')
  node -e '
    const [events, d, cpu, backend] = process.argv.slice(1).map(Number);
    const pad = (s, n) => String(s).padEnd(n);
    console.log(pad("sysbench", 20) + pad((events / d).toFixed(1) + " conn/s", 18) + pad(events + " events", 22) +
      pad("client CPU " + cpu.toFixed(3) + " s", 22) + (events / cpu).toFixed(1) + " conn per client CPU s   (MariaDB Connections +" + backend + ")");
  ' "${events:-0}" "$D" "${cpu:-0}" "$((after - before))"
}

have_sysbench=0
if command -v sysbench >/dev/null 2>&1; then
  have_sysbench=1
  mkdir -p "$tmp/sysbench"
  cp "$CA" "$tmp/sysbench/cacert.pem"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=sysbench \
    -keyout "$tmp/sysbench/client-key.pem" -out "$tmp/sysbench/client-cert.pem" 2>/dev/null
  mariadb --no-defaults --socket="$tmp/mysqld.sock" -uroot -e "CREATE DATABASE sbtest"
else
  echo "sysbench not installed (apt-get install -y sysbench): skipped"
fi

# Alternate the tools so that load from anything else on the machine hits them alike.
for round in $(seq 1 "${ROUNDS:-2}"); do
  echo "-- round $round"
  run "raw baseline" node bench/raw-tls-baseline.js --target "$TARGET" --user bench --password bench-secret \
    --concurrency "$C" --duration "$D" --json
  run "bench" node "$CLI" bench --target "$TARGET" --user bench --password bench-secret \
    --concurrency "$C" --duration "$D" --json
  run "bench --ca" node "$CLI" bench --target "$TARGET" --user bench --password bench-secret --ca "$CA" \
    --concurrency "$C" --duration "$D" --json
  if [ "$have_sysbench" = 1 ]; then sysbench_run; fi
done
