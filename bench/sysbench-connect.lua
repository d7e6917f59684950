#!/usr/bin/env sysbench
-- One event = one new MySQL connection (connect, TLS with --mysql-ssl=on, login) and disconnect.
-- Used by bench/bench-vs-baseline.sh to compare connections per client CPU second.
function thread_init()
  drv = sysbench.sql.driver()
end

function event()
  local con = drv:connect()
  con:disconnect()
end
