/**
 * The live page at / on the status port, for people without Prometheus: TLS version and cipher
 * share, handshakes per second, handshake latency, active connections, refusals, certificate expiry;
 * and the TLS adoption audit's chart and top clients (./live-audit-page.ts).
 *
 * Plain HTML, one stylesheet and one script, all served by the status server from these constants:
 * no build step, no external assets (works offline), and a strict Content-Security-Policy (no
 * inline script or style). The script polls /metrics every 2 s and parses the Prometheus text
 * itself, so the page shows exactly what a scraper sees. Each figure carries its raw value in
 * data-value (the text is formatted for people), which is what the page test compares.
 */

import { LIVE_AUDIT_CARDS } from './live-audit-page';

export const LIVE_PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const LIVE_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>mysql-tls-proxy · live</title>
<link rel="stylesheet" href="live.css">
<link rel="stylesheet" href="live-audit.css">
<script src="live-audit.js" defer></script>
<script src="live.js" defer></script>
</head>
<body>
<header>
  <h1>mysql-tls-proxy <span class="muted">live</span></h1>
  <p class="meta"><span id="backend" class="pill">backend …</span> <span id="updated" class="muted">loading /metrics …</span></p>
  <p id="error" class="error" hidden></p>
</header>
<main>
  <section class="tiles" aria-label="key figures">
    <div class="tile"><span class="label">handshakes / s</span><span class="big" data-figure="handshakes-per-second">–</span><svg id="spark" class="spark" viewBox="0 0 120 24" preserveAspectRatio="none" aria-hidden="true"></svg></div>
    <div class="tile"><span class="label">TLS handshakes</span><span class="big" data-figure="handshakes-total">–</span></div>
    <div class="tile"><span class="label">handshake p50</span><span class="big" data-figure="p50:all">–</span></div>
    <div class="tile"><span class="label">handshake p99</span><span class="big" data-figure="p99:all">–</span></div>
    <div class="tile"><span class="label">active connections</span><span class="big" data-figure="active-total">–</span></div>
    <div class="tile"><span class="label">certificate expires in</span><span class="big" data-figure="cert-days">–</span><span class="small muted" data-figure="cert-expiry">–</span></div>
    <div class="tile"><span class="label">refused</span><span class="big" data-figure="refused-total">–</span></div>
  </section>
  <section class="cards">
    <article class="card"><h2>TLS versions</h2><table id="versions"><thead><tr><th>version</th><th class="num">count</th><th class="num">/ s</th><th class="num">share</th></tr></thead><tbody></tbody></table></article>
    <article class="card"><h2>Ciphers</h2><table id="ciphers"><thead><tr><th>cipher</th><th class="num">count</th><th class="num">share</th></tr></thead><tbody></tbody></table></article>
    <article class="card"><h2>Handshake latency <span class="muted small">since start</span></h2><table id="latency"><thead><tr><th>version</th><th class="num">count</th><th class="num">p50</th><th class="num">p99</th><th class="num">mean</th></tr></thead><tbody></tbody></table></article>
    <article class="card"><h2>Active connections</h2><table id="active"><tbody></tbody></table></article>
    <article class="card"><h2>Refusals</h2><table id="rejections"><thead><tr><th>connection refused: reason</th><th class="num">count</th></tr></thead><tbody></tbody></table><table id="tls-failures"><thead><tr><th>TLS handshake failed: reason</th><th class="num">count</th></tr></thead><tbody></tbody></table></article>
    <article class="card"><h2>Traffic</h2><table id="traffic"><tbody></tbody></table></article>
    ${LIVE_AUDIT_CARDS}
  </section>
</main>
<footer class="muted small">Raw data: <a href="metrics">/metrics</a> · <a href="clients">/clients</a> · <a href="readyz">/readyz</a> · <a href="healthz">/healthz</a> · CA certificate: <a href="ca.pem">/ca.pem</a> · refreshes every 2 s</footer>
</body>
</html>
`;

export const LIVE_PAGE_CSS = `:root {
  --fg: #1b1f24; --muted: #5f6b76; --bg: #f5f6f8; --card: #fff; --line: #e3e6ea;
  --accent: #2f6fde; --ok: #1f883d; --bad: #cf222e; --warn: #9a6700;
}
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e9ed; --muted: #9aa5b1; --bg: #111418; --card: #1b2027; --line: #2c333c;
    --accent: #5b93f0; --ok: #3fb950; --bad: #f85149; --warn: #d29922; }
}
* { box-sizing: border-box; }
body { margin: 0; padding: 16px; background: var(--bg); color: var(--fg);
  font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header, main, footer { max-width: 1200px; margin: 0 auto; }
h1 { font-size: 1.3rem; margin: 0 0 4px; }
h2 { font-size: 1rem; margin: 0 0 8px; }
.meta { margin: 0 0 12px; }
.muted { color: var(--muted); font-weight: normal; }
.small { font-size: 0.8rem; }
.error { background: var(--bad); color: #fff; padding: 6px 10px; border-radius: 6px; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 999px; border: 1px solid var(--line); font-size: 0.85rem; }
.pill.up { color: var(--ok); border-color: var(--ok); }
.pill.down { color: var(--bad); border-color: var(--bad); }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 10px; margin-bottom: 12px; }
.tile { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px;
  display: flex; flex-direction: column; min-width: 0; }
.label { color: var(--muted); font-size: 0.8rem; }
.big { font-size: 1.5rem; font-weight: 600; font-variant-numeric: tabular-nums; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.warn-text { color: var(--warn); }
.bad-text { color: var(--bad); }
.spark { width: 100%; height: 24px; margin-top: 4px; }
.spark polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; vector-effect: non-scaling-stroke; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 10px; }
@media (max-width: 420px) { body { padding: 10px; } .cards { grid-template-columns: 1fr; } .big { font-size: 1.25rem; } td.num, th.num { padding-left: 6px; } table { font-size: 0.85rem; } }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; min-width: 0; overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
table + table { margin-top: 10px; }
th, td { text-align: left; padding: 3px 6px 3px 0; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { color: var(--muted); font-weight: normal; font-size: 0.8rem; }
td.num, th.num { text-align: right; white-space: nowrap; padding-left: 10px; }
td.name { overflow-wrap: break-word; }
tr.zero td { color: var(--muted); }
.track { display: block; height: 6px; margin: 3px 0 2px; background: var(--line); border-radius: 3px; overflow: hidden; }
.fill { display: block; height: 100%; background: var(--accent); }
.tag { display: inline-block; font-size: 0.75rem; color: var(--muted); border: 1px solid var(--line); border-radius: 4px; padding: 0 4px; margin-right: 4px; }
.cipher { overflow-wrap: anywhere; }
.empty { color: var(--muted); font-style: italic; }
footer { margin-top: 14px; }
a { color: var(--accent); }
`;

export const LIVE_PAGE_JS = String.raw`(function (root) {
  'use strict';
  var P = 'mysql_tls_proxy_';
  var REFRESH_MS = 2000;
  var RATE_WINDOW_S = 10;
  var HISTORY_S = 120;

  /** Prometheus text format 0.0.4 -> [{name, labels, value}]. */
  function parsePrometheus(text) {
    var out = [];
    var lines = text.split('\n');
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i].trim();
      if (line === '' || line.charAt(0) === '#') continue;
      var m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
      if (!m) continue;
      var labels = {};
      if (m[2]) {
        var re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
        var lm;
        while ((lm = re.exec(m[2])) !== null) {
          labels[lm[1]] = lm[2].replace(/\\(.)/g, function (_, c) { return c === 'n' ? '\n' : c; });
        }
      }
      out.push({ name: m[1], labels: labels, value: parseValue(m[3]) });
    }
    return out;
  }

  function parseValue(text) {
    if (text === '+Inf') return Infinity;
    if (text === '-Inf') return -Infinity;
    return Number(text);
  }

  function select(samples, name) {
    return samples.filter(function (s) { return s.name === name; });
  }

  function total(samples, name) {
    return select(samples, name).reduce(function (acc, s) { return acc + s.value; }, 0);
  }

  /** Sum of a metric by one label: {labelValue: sum}. */
  function byLabel(samples, name, label) {
    var out = {};
    select(samples, name).forEach(function (s) {
      var key = s.labels[label];
      out[key] = (out[key] || 0) + s.value;
    });
    return out;
  }

  /** As PromQL histogram_quantile: linear interpolation within the bucket holding the rank. */
  function histogramQuantile(q, buckets) {
    var sorted = buckets.slice().sort(function (a, b) { return a.le - b.le; });
    if (sorted.length < 2 || sorted[sorted.length - 1].le !== Infinity) return NaN;
    var count = sorted[sorted.length - 1].count;
    if (!(count > 0)) return NaN;
    var rank = q * count;
    var i = 0;
    while (i < sorted.length - 1 && sorted[i].count < rank) i++;
    if (i === sorted.length - 1) return sorted[sorted.length - 2].le;
    var upper = sorted[i].le;
    var lower = i === 0 ? 0 : sorted[i - 1].le;
    var below = i === 0 ? 0 : sorted[i - 1].count;
    if (i === 0 && upper <= 0) return upper;
    var inBucket = sorted[i].count - below;
    return inBucket > 0 ? lower + (upper - lower) * ((rank - below) / inBucket) : upper;
  }

  /** Cumulative buckets of a histogram, summed over every series that passes 'filter'. */
  function histogramBuckets(samples, name, filter) {
    var byLe = {};
    select(samples, name + '_bucket').forEach(function (s) {
      if (filter && !filter(s.labels)) return;
      var le = parseValue(s.labels.le);
      byLe[le] = (byLe[le] || 0) + s.value;
    });
    return Object.keys(byLe).map(function (le) { return { le: Number(le), count: byLe[le] }; });
  }

  function latency(samples, filter) {
    var name = P + 'tls_handshake_duration_seconds';
    var buckets = histogramBuckets(samples, name, filter);
    var count = 0, sum = 0;
    select(samples, name + '_count').forEach(function (s) { if (!filter || filter(s.labels)) count += s.value; });
    select(samples, name + '_sum').forEach(function (s) { if (!filter || filter(s.labels)) sum += s.value; });
    return {
      count: count,
      p50: histogramQuantile(0.5, buckets),
      p99: histogramQuantile(0.99, buckets),
      mean: count > 0 ? sum / count : NaN,
    };
  }

  /** Everything the page shows, from one scrape. Times in seconds. */
  function summarize(samples) {
    var versions = byLabel(samples, P + 'tls_handshakes_total', 'version');
    var handshakesTotal = total(samples, P + 'tls_handshakes_total');
    var ciphers = [];
    select(samples, P + 'tls_handshakes_total').forEach(function (s) {
      ciphers.push({ version: s.labels.version, cipher: s.labels.cipher, count: s.value });
    });
    var latencyByVersion = {};
    var latencyVersions = {};
    select(samples, P + 'tls_handshake_duration_seconds_count').forEach(function (s) { latencyVersions[s.labels.version] = true; });
    Object.keys(latencyVersions).forEach(function (v) {
      latencyByVersion[v] = latency(samples, function (l) { return l.version === v; });
    });
    var expiry = select(samples, P + 'certificate_expiry_timestamp_seconds');
    var backendUp = select(samples, P + 'backend_up');
    return {
      handshakesTotal: handshakesTotal,
      versions: versions,
      ciphers: ciphers,
      latency: latency(samples),
      latencyByVersion: latencyByVersion,
      active: byLabel(samples, P + 'connections_active', 'transport'),
      activeTotal: total(samples, P + 'connections_active'),
      connections: byLabel(samples, P + 'connections_total', 'transport'),
      rejected: byLabel(samples, P + 'connections_rejected_total', 'reason'),
      rejectedTotal: total(samples, P + 'connections_rejected_total'),
      tlsFailures: byLabel(samples, P + 'tls_handshake_failures_total', 'reason'),
      tlsFailuresTotal: total(samples, P + 'tls_handshake_failures_total'),
      auth: byLabel(samples, P + 'auth_total', 'result'),
      bytes: byLabel(samples, P + 'bytes_total', 'direction'),
      certExpiry: expiry.length ? expiry[0].value : NaN,
      backendUp: backendUp.length ? backendUp[0].value : NaN,
    };
  }

  /** Per-second increase of 'pick(summary)' between two snapshots {t, s}; counter resets count from 0. */
  function perSecond(older, newer, pick) {
    if (!older || !newer || newer.t <= older.t) return NaN;
    var a = pick(older.s) || 0, b = pick(newer.s) || 0;
    return (b >= a ? b - a : b) / (newer.t - older.t);
  }

  // ---- rendering --------------------------------------------------------------------------------

  function fmtCount(n) { return isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–'; }
  function fmtRate(n) { return isFinite(n) ? (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)) : '–'; }
  function fmtPct(n) { return isFinite(n) ? (n * 100).toFixed(1) + '%' : '–'; }
  function fmtSeconds(s) {
    if (!isFinite(s)) return '–';
    if (s < 0.001) return (s * 1e6).toPrecision(3) + ' µs';
    if (s < 1) return (s * 1e3).toPrecision(3) + ' ms';
    return s.toPrecision(3) + ' s';
  }
  function fmtBytes(n) {
    if (!isFinite(n)) return '–';
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + ' ' + units[i];
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { if (attrs[k] !== undefined) node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) { node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return node;
  }

  function figure(tag, key, value, text, cls) {
    return el(tag, { 'data-figure': key, 'data-value': String(value), class: cls }, [text]);
  }

  function setFigure(key, value, text) {
    var node = document.querySelector('[data-figure="' + key + '"]');
    if (!node) return;
    node.setAttribute('data-value', String(value));
    node.textContent = text;
  }

  /** A share bar, drawn under the row's name. Set through CSSOM, which the CSP allows. */
  function track(share) {
    var fill = el('span', { class: 'fill' });
    fill.style.width = (isFinite(share) ? Math.max(0, Math.min(1, share)) * 100 : 0) + '%';
    return el('span', { class: 'track' }, [fill]);
  }

  function fillBody(tableId, rows, emptyText, columns) {
    var body = document.querySelector('#' + tableId + ' tbody');
    while (body.firstChild) body.removeChild(body.firstChild);
    if (rows.length === 0) {
      body.appendChild(el('tr', {}, [el('td', { class: 'empty', colspan: String(columns) }, [emptyText])]));
      return;
    }
    rows.forEach(function (r) { body.appendChild(r); });
  }

  var history = [];

  function render(summary, now) {
    history.push({ t: now, s: summary });
    while (history.length > 2 && now - history[0].t > HISTORY_S) history.shift();
    var windowStart = history[0];
    for (var i = 0; i < history.length; i++) { if (now - history[i].t <= RATE_WINDOW_S) { windowStart = history[i]; break; } }
    if (windowStart === history[history.length - 1] && history.length > 1) windowStart = history[history.length - 2];
    var latest = history[history.length - 1];
    var rate = perSecond(windowStart, latest, function (s) { return s.handshakesTotal; });

    setFigure('handshakes-per-second', rate, fmtRate(rate));
    setFigure('handshakes-total', summary.handshakesTotal, fmtCount(summary.handshakesTotal));
    setFigure('p50:all', summary.latency.p50, fmtSeconds(summary.latency.p50));
    setFigure('p99:all', summary.latency.p99, fmtSeconds(summary.latency.p99));
    setFigure('active-total', summary.activeTotal, fmtCount(summary.activeTotal));
    var refused = summary.rejectedTotal + summary.tlsFailuresTotal;
    setFigure('refused-total', refused, fmtCount(refused));
    var days = (summary.certExpiry - now) / 86400;
    setFigure('cert-days', Math.floor(days), isFinite(days) ? (days < 0 ? 'EXPIRED' : Math.floor(days) + ' days') : '–');
    var daysNode = document.querySelector('[data-figure="cert-days"]');
    daysNode.className = 'big' + (days < 0 ? ' bad-text' : days < 14 ? ' warn-text' : '');
    setFigure('cert-expiry', summary.certExpiry, isFinite(summary.certExpiry) ? new Date(summary.certExpiry * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '–');

    drawSpark(now);

    var versionNames = Object.keys(summary.versions).sort();
    fillBody('versions', versionNames.map(function (v) {
      var count = summary.versions[v];
      var vRate = perSecond(windowStart, latest, function (s) { return s.versions[v]; });
      var share = summary.handshakesTotal > 0 ? count / summary.handshakesTotal : NaN;
      return el('tr', { class: count === 0 ? 'zero' : undefined }, [
        el('td', { class: 'name' }, [v, track(share)]),
        el('td', { class: 'num' }, [figure('span', 'handshakes-version:' + v, count, fmtCount(count))]),
        el('td', { class: 'num' }, [figure('span', 'rate-version:' + v, vRate, fmtRate(vRate))]),
        el('td', { class: 'num' }, [figure('span', 'share-version:' + v, share, fmtPct(share))]),
      ]);
    }), 'no TLS handshakes yet', 4);

    var ciphers = summary.ciphers.slice().sort(function (a, b) { return b.count - a.count || (a.version + a.cipher < b.version + b.cipher ? -1 : 1); });
    fillBody('ciphers', ciphers.map(function (c) {
      var key = c.version + '/' + c.cipher;
      var share = summary.handshakesTotal > 0 ? c.count / summary.handshakesTotal : NaN;
      return el('tr', {}, [
        el('td', { class: 'name' }, [el('span', { class: 'tag' }, [c.version]), el('span', { class: 'cipher' }, [c.cipher]), track(share)]),
        el('td', { class: 'num' }, [figure('span', 'handshakes-cipher:' + key, c.count, fmtCount(c.count))]),
        el('td', { class: 'num' }, [figure('span', 'share-cipher:' + key, share, fmtPct(share))]),
      ]);
    }), 'no TLS handshakes yet', 3);

    var latencyRows = Object.keys(summary.latencyByVersion).sort().map(function (v) {
      return latencyRow(v, v, summary.latencyByVersion[v]);
    });
    if (latencyRows.length > 1) latencyRows.push(latencyRow('all', 'all', summary.latency));
    fillBody('latency', latencyRows, 'no TLS handshakes yet', 5);

    fillBody('active', Object.keys(summary.active).sort().map(function (t) {
      return el('tr', {}, [el('td', { class: 'name' }, [t]), el('td', { class: 'num' }, [figure('span', 'active:' + t, summary.active[t], fmtCount(summary.active[t]))])]);
    }), 'no data', 2);

    fillBody('rejections', countRows(summary.rejected, 'rejected:'), 'no data', 2);
    fillBody('tls-failures', countRows(summary.tlsFailures, 'tls-failure:'), 'no data', 2);

    var inRate = perSecond(windowStart, latest, function (s) { return s.bytes.client_to_backend; });
    var outRate = perSecond(windowStart, latest, function (s) { return s.bytes.backend_to_client; });
    fillBody('traffic', [
      trafficRow('TLS connections', 'connections:tls', summary.connections.tls, fmtCount),
      trafficRow('plaintext connections', 'connections:plain', summary.connections.plain, fmtCount),
      trafficRow('logins ok', 'auth:ok', summary.auth.ok, fmtCount),
      trafficRow('logins failed', 'auth:error', summary.auth.error, fmtCount),
      trafficRow('client → database', 'bytes-rate:client_to_backend', inRate, function (n) { return fmtBytes(n) + '/s'; }),
      trafficRow('database → client', 'bytes-rate:backend_to_client', outRate, function (n) { return fmtBytes(n) + '/s'; }),
    ], 'no data', 2);

    var pill = document.getElementById('backend');
    var up = summary.backendUp;
    pill.textContent = isNaN(up) ? 'backend ?' : up === 1 ? 'backend up' : 'backend DOWN';
    pill.className = 'pill' + (up === 1 ? ' up' : up === 0 ? ' down' : '');
    pill.setAttribute('data-figure', 'backend-up');
    pill.setAttribute('data-value', String(up));
  }

  function latencyRow(label, key, l) {
    return el('tr', {}, [
      el('td', { class: 'name' }, [label]),
      el('td', { class: 'num' }, [figure('span', 'latency-count:' + key, l.count, fmtCount(l.count))]),
      el('td', { class: 'num' }, [figure('span', 'p50:' + key + (key === 'all' ? ':row' : ''), l.p50, fmtSeconds(l.p50))]),
      el('td', { class: 'num' }, [figure('span', 'p99:' + key + (key === 'all' ? ':row' : ''), l.p99, fmtSeconds(l.p99))]),
      el('td', { class: 'num' }, [figure('span', 'mean:' + key, l.mean, fmtSeconds(l.mean))]),
    ]);
  }

  function countRows(counts, prefix) {
    return Object.keys(counts).sort(function (a, b) { return counts[b] - counts[a] || (a < b ? -1 : 1); }).map(function (k) {
      return el('tr', { class: counts[k] === 0 ? 'zero' : undefined }, [el('td', { class: 'name' }, [k]), el('td', { class: 'num' }, [figure('span', prefix + k, counts[k], fmtCount(counts[k]))])]);
    });
  }

  function trafficRow(label, key, value, fmt) {
    return el('tr', {}, [el('td', { class: 'name' }, [label]), el('td', { class: 'num' }, [figure('span', key, value, fmt(value))])]);
  }

  function drawSpark(now) {
    var svg = document.getElementById('spark');
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var points = [];
    for (var i = 1; i < history.length; i++) {
      points.push({ t: history[i].t, r: perSecond(history[i - 1], history[i], function (s) { return s.handshakesTotal; }) });
    }
    if (points.length < 2) return;
    var max = Math.max.apply(null, points.map(function (p) { return p.r; }).concat([1]));
    var coords = points.map(function (p) {
      var x = 120 - ((now - p.t) / HISTORY_S) * 120;
      var y = 23 - (p.r / max) * 22;
      return x.toFixed(1) + ',' + y.toFixed(1);
    });
    var line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    line.setAttribute('points', coords.join(' '));
    svg.appendChild(line);
  }

  function refresh() {
    var errorNode = document.getElementById('error');
    fetch('metrics', { cache: 'no-store' })
      .then(function (response) {
        if (!response.ok) throw new Error('/metrics answered HTTP ' + response.status);
        return response.text();
      })
      .then(function (text) {
        var now = Date.now() / 1000;
        var summary = summarize(parsePrometheus(text));
        render(summary, now);
        // live-audit.js (src/observability/live-audit-page.ts) charts and lists from each scrape.
        document.dispatchEvent(new CustomEvent('mtp:scrape', { detail: { t: now, summary: summary } }));
        errorNode.hidden = true;
        var updated = document.getElementById('updated');
        updated.textContent = 'updated ' + new Date(now * 1000).toLocaleTimeString();
        document.body.setAttribute('data-scrapes', String(history.length));
      })
      .catch(function (error) {
        errorNode.textContent = 'cannot read /metrics: ' + error.message + ' (showing the last figures)';
        errorNode.hidden = false;
      })
      .then(function () { setTimeout(refresh, REFRESH_MS); });
  }

  root.MtpLive = { parsePrometheus: parsePrometheus, histogramQuantile: histogramQuantile, summarize: summarize, perSecond: perSecond };
  if (typeof document !== 'undefined' && document.getElementById) {
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', refresh);
    else refresh();
  }
})(typeof window !== 'undefined' ? window : globalThis);
`;
