#!/usr/bin/env bash
# Times `mysql-tls-proxy check` (a full scan: every version, cipher, group, signature algorithm,
# renegotiation, resumption, compression, plaintext login, chain) against testssl.sh's
# `--starttls mysql` on the same endpoints: a throwaway MariaDB with native TLS (RSA certificate,
# default ssl_cipher) and the proxy in front of it. Prints one line per tool and endpoint.
#
#   bench/check-vs-testssl.sh            # needs mariadb-server; testssl.sh optional (apt-get install -y testssl.sh)
#
# KEEP=1 leaves the servers running and prints how to reach them.
set -euo pipefail
cd "$(dirname "$0")/.."
CLI="$PWD/dist/cli/index.js"
npm run build --silent >/dev/null

tmp=$(mktemp -d /tmp/mtp-check-bench-XXXXXX)
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

node "$CLI" certs --out "$tmp/certs" --key-type rsa >/dev/null
db_port=$(free_port)
mariadb-install-db --no-defaults --datadir="$tmp/data" --auth-root-authentication-method=socket \
  --skip-test-db --user="$(id -un)" --innodb-buffer-pool-size=32M --innodb-log-file-size=16M >/dev/null
/usr/sbin/mariadbd --no-defaults --user="$(id -un)" --datadir="$tmp/data" --port="$db_port" \
  --bind-address=127.0.0.1 --socket="$tmp/mysqld.sock" --pid-file="$tmp/mysqld.pid" \
  --log-error="$tmp/error.log" --skip-log-bin --innodb-buffer-pool-size=32M --innodb-log-file-size=16M \
  --max-connect-errors=1000000 --skip-name-resolve \
  --ssl-cert="$tmp/certs/server.pem" --ssl-key="$tmp/certs/server-key.pem" --ssl-ca="$tmp/certs/ca.pem" &
pids+=($!)
wait_port "$db_port"
for _ in $(seq 1 100); do mariadb --no-defaults --socket="$tmp/mysqld.sock" -uroot -e 'select 1' >/dev/null 2>&1 && break; sleep 0.1; done
# Without a user for 127.0.0.1, MariaDB answers the greeting with ERR 1130 (nothing to scan).
mariadb --no-defaults --socket="$tmp/mysqld.sock" -uroot -e "CREATE USER bench@'%' IDENTIFIED BY 'bench-secret'"

proxy_port=$(free_port)
mkdir -p "$tmp/proxy"
(cd "$tmp/proxy" && exec node "$CLI" serve --listen "127.0.0.1:$proxy_port" --backend "127.0.0.1:$db_port" \
  --cert "$tmp/certs/server.pem" --key "$tmp/certs/server-key.pem" --status off --log-level warn >"$tmp/proxy.log" 2>&1) &
pids+=($!)
wait_port "$proxy_port"
if [ "${KEEP:-0}" = 1 ]; then echo "MariaDB 127.0.0.1:$db_port, proxy 127.0.0.1:$proxy_port, CA $tmp/certs/ca.pem"; fi

seconds() { local start=$(date +%s.%N); "$@" >"$tmp/out" 2>&1 || true; echo "$(date +%s.%N) - $start" | bc; }
echo "== $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg) =="
for name in mariadb proxy; do
  port=$db_port; [ "$name" = proxy ] && port=$proxy_port
  t=$(seconds node "$CLI" check --target "127.0.0.1:$port" --ca "$tmp/certs/ca.pem" --json)
  cp "$tmp/out" "$tmp/check-$name.json"
  n=$(node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log(r.versions.map(v=>v.ciphers.length).reduce((a,b)=>a+b,0)+" ciphers, "+r.findings.length+" findings")' "$tmp/out")
  printf '%-8s mysql-tls-proxy check          %6.1f s  (%s)\n' "$name" "$t" "$n"
  if [ "${NO_TESTSSL:-0}" != 1 ] && { command -v testssl || command -v testssl.sh; } >/dev/null; then
    bin=$(command -v testssl || command -v testssl.sh)
    t=$(seconds "$bin" --starttls mysql --quiet --color 0 --warnings batch --ip one "127.0.0.1:$port")
    printf '%-8s testssl.sh --starttls mysql    %6.1f s\n' "$name" "$t"
  fi
done
