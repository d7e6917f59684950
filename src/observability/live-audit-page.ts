/**
 * The TLS adoption audit on the live page (docs/tls-adoption-audit.md): a chart of handshakes per
 * second by TLS version (and plaintext logins per second) drawn as inline SVG, and the top clients
 * from /clients: who logs in, from where, over what.
 *
 * A second script next to live.js (src/observability/live-page.ts), served by the status server
 * under the same strict CSP: no inline code, no external assets, works offline. live.js announces
 * every scrape of /metrics with an `mtp:scrape` event carrying its summary; this script keeps the
 * last two minutes of those and fetches /clients at the same pace. Each series carries its raw
 * figures in data-* attributes, which is what the page test reads.
 */

export const LIVE_AUDIT_CSS = `.chart { width: 100%; height: auto; display: block; }
.chart .axis { stroke: var(--line); stroke-width: 1; vector-effect: non-scaling-stroke; }
.chart text { fill: var(--muted); font-size: 11px; }
.chart .series { fill: none; stroke-width: 2; vector-effect: non-scaling-stroke; }
.s-0 { stroke: var(--accent); } .s-1 { stroke: var(--warn); } .s-2 { stroke: #8250df; } .s-3 { stroke: #1b7c83; }
.s-plain { stroke: var(--bad); stroke-dasharray: 4 3; }
.legend { list-style: none; margin: 6px 0 0; padding: 0; display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 0.85rem; }
.swatch { display: inline-block; width: 14px; height: 0; border-top: 3px solid; margin-right: 5px; vertical-align: middle; }
.swatch.s-0 { border-color: var(--accent); } .swatch.s-1 { border-color: var(--warn); }
.swatch.s-2 { border-color: #8250df; } .swatch.s-3 { border-color: #1b7c83; }
.swatch.s-plain { border-color: var(--bad); border-top-style: dashed; }
.who { display: block; overflow-wrap: anywhere; }
.tag.plain { color: var(--bad); border-color: var(--bad); }
`;

/** The card markup, inserted into the live page's .cards section. */
export const LIVE_AUDIT_CARDS = `<article class="card"><h2>Handshakes / s by TLS version <span class="muted small">last 2 min</span></h2><svg id="version-chart" class="chart" viewBox="0 0 360 150" role="img" aria-label="handshakes per second by TLS version"></svg><ul id="version-legend" class="legend"></ul></article>
    <article class="card"><h2>Top clients <span id="clients-window" class="muted small"></span></h2><table id="clients"><thead><tr><th>user · client address</th><th>transport</th><th class="num">logins</th></tr></thead><tbody></tbody></table><p class="muted small">From <a href="clients">/clients</a>: bounded top-k, see docs/tls-adoption-audit.md</p></article>`;

export const LIVE_AUDIT_JS = String.raw`(function (root) {
  'use strict';
  var HISTORY_S = 120;
  var SVG = 'http://www.w3.org/2000/svg';
  var H = 150, LEFT = 34, RIGHT = 354, TOP = 8, BOTTOM = 128;
  var PLAIN = 'plaintext';
  var history = [];

  /** Counters to chart from one live.js summary: handshakes by TLS version, plaintext logins. */
  function countersOf(summary) {
    var out = {};
    Object.keys(summary.versions || {}).forEach(function (v) { out[v] = summary.versions[v]; });
    out[PLAIN] = (summary.connections && summary.connections.plain) || 0;
    return out;
  }

  /** [{t, counters}] -> {series: [{t, r}]}: per-second increase between neighbours (a reset counts from 0). */
  function seriesFrom(points) {
    var names = {};
    points.forEach(function (p) { Object.keys(p.counters).forEach(function (n) { names[n] = true; }); });
    var out = {};
    Object.keys(names).forEach(function (name) {
      var rates = [];
      for (var i = 1; i < points.length; i++) {
        var dt = points[i].t - points[i - 1].t;
        if (!(dt > 0)) continue;
        var a = points[i - 1].counters[name] || 0, b = points[i].counters[name] || 0;
        rates.push({ t: points[i].t, r: (b >= a ? b - a : b) / dt });
      }
      out[name] = rates;
    });
    return out;
  }

  /** TLS versions in order, plaintext last. */
  function seriesNames(series) {
    return Object.keys(series).filter(function (n) { return n !== PLAIN; }).sort().concat(series[PLAIN] ? [PLAIN] : []);
  }

  function svgEl(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fmtRate(n) { return isFinite(n) ? (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)) : '–'; }

  function drawChart(now) {
    var svg = document.getElementById('version-chart');
    var legend = document.getElementById('version-legend');
    if (!svg || !legend) return;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    while (legend.firstChild) legend.removeChild(legend.firstChild);
    var series = seriesFrom(history);
    var names = seriesNames(series);
    var max = 1;
    names.forEach(function (n) { series[n].forEach(function (p) { if (p.r > max) max = p.r; }); });
    var x = function (t) { return RIGHT - ((now - t) / HISTORY_S) * (RIGHT - LEFT); };
    var y = function (r) { return BOTTOM - (r / max) * (BOTTOM - TOP); };
    svg.appendChild(svgEl('line', { class: 'axis', x1: LEFT, y1: BOTTOM, x2: RIGHT, y2: BOTTOM }));
    svg.appendChild(svgEl('line', { class: 'axis', x1: LEFT, y1: TOP, x2: RIGHT, y2: TOP }));
    svg.appendChild(svgEl('text', { x: LEFT - 6, y: TOP + 4, 'text-anchor': 'end' }, fmtRate(max)));
    svg.appendChild(svgEl('text', { x: LEFT - 6, y: BOTTOM + 4, 'text-anchor': 'end' }, '0'));
    svg.appendChild(svgEl('text', { x: LEFT, y: H - 4 }, '-' + HISTORY_S + ' s'));
    svg.appendChild(svgEl('text', { x: RIGHT, y: H - 4, 'text-anchor': 'end' }, 'now'));
    var tlsIndex = 0;
    names.forEach(function (name) {
      var points = series[name];
      var cls = name === PLAIN ? 's-plain' : 's-' + (tlsIndex++ % 4);
      var last = points.length ? points[points.length - 1].r : NaN;
      var peak = points.reduce(function (m, p) { return p.r > m ? p.r : m; }, 0);
      var coords = points.map(function (p) { return x(p.t).toFixed(1) + ',' + y(p.r).toFixed(1); });
      var line = svgEl('polyline', { class: 'series ' + cls, points: coords.join(' '), 'data-series': name, 'data-points': points.length, 'data-last': last, 'data-max': peak });
      line.appendChild(svgEl('title', {}, name));
      svg.appendChild(line);
      var item = document.createElement('li');
      var swatch = document.createElement('span');
      swatch.className = 'swatch ' + cls;
      var figure = document.createElement('span');
      figure.setAttribute('data-figure', 'chart-rate:' + name);
      figure.setAttribute('data-value', String(last));
      figure.textContent = fmtRate(last) + ' / s';
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(name + ' '));
      item.appendChild(figure);
      legend.appendChild(item);
    });
  }

  function cell(children, cls) {
    var td = document.createElement('td');
    if (cls) td.className = cls;
    children.forEach(function (c) { td.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return td;
  }

  function span(text, cls) {
    var node = document.createElement('span');
    node.className = cls;
    node.textContent = text;
    return node;
  }

  function renderClients(report) {
    var body = document.querySelector('#clients tbody');
    if (!body) return;
    while (body.firstChild) body.removeChild(body.firstChild);
    var minutes = Math.round(report.window_seconds / 60);
    document.getElementById('clients-window').textContent = 'last ' + minutes + ' min' + (report.exact ? '' : ' · approximate');
    if (report.clients.length === 0) {
      var empty = document.createElement('tr');
      var td = cell(['no logins in the window'], 'empty');
      td.setAttribute('colspan', '3');
      empty.appendChild(td);
      body.appendChild(empty);
      return;
    }
    report.clients.forEach(function (c) {
      var how = c.transport === 'plain' ? 'plaintext' : c.tls_version;
      var row = document.createElement('tr');
      row.setAttribute('data-user', c.user);
      row.setAttribute('data-address', c.address);
      row.setAttribute('data-transport', how);
      row.setAttribute('data-logins', String(c.logins));
      row.title = 'last seen ' + c.last_seen + (c.logins_min < c.logins ? ' · at least ' + c.logins_min : '');
      row.appendChild(cell([span(c.user, 'who'), span(c.address, 'who muted small')], 'name'));
      row.appendChild(cell([span(how, 'tag' + (c.transport === 'plain' ? ' plain' : ''))]));
      row.appendChild(cell([String(c.logins)], 'num'));
      body.appendChild(row);
    });
  }

  function refreshClients() {
    fetch('clients?limit=20', { cache: 'no-store' })
      .then(function (response) {
        if (!response.ok) throw new Error('/clients answered HTTP ' + response.status);
        return response.json();
      })
      .then(function (report) {
        renderClients(report);
        document.body.setAttribute('data-clients-updates', String(Number(document.body.getAttribute('data-clients-updates') || 0) + 1));
      })
      .catch(function () { /* live.js shows the status port's errors; keep the last table */ });
  }

  function onScrape(event) {
    var detail = event.detail;
    history.push({ t: detail.t, counters: countersOf(detail.summary) });
    while (history.length > 2 && detail.t - history[0].t > HISTORY_S) history.shift();
    drawChart(detail.t);
    refreshClients();
  }

  root.MtpAudit = { countersOf: countersOf, seriesFrom: seriesFrom, seriesNames: seriesNames };
  if (typeof document !== 'undefined' && document.addEventListener) document.addEventListener('mtp:scrape', onScrape);
})(typeof window !== 'undefined' ? window : globalThis);
`;
