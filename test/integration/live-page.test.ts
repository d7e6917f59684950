/**
 * The live page at / on the status port, loaded in headless Chromium (Debian's `chromium`, driven
 * by playwright-core): after known traffic through a real proxy, every figure it renders must
 * equal what /metrics says, the audit chart and top-clients table what the test did. Screenshots at
 * laptop and phone width go to /tmp/live-page*.png.
 */
import { existsSync, promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startMariaDb, TEST_USERS, type MariaDbServer } from '../helpers/mariadb';
import { startProxy, type ProxyProcess } from '../helpers/proxy';
import { mysql, sClient } from '../helpers/clients';

const CHROMIUM = '/usr/bin/chromium';
const { user, password } = TEST_USERS.native;

let db: MariaDbServer;
let proxy: ProxyProcess;
let context: BrowserContext;
let page: Page;
let userDataDir: string;
let openConnection: { end(): Promise<void> } | undefined;
const browserErrors: string[] = [];

const TLS13 = 4;
const TLS12 = 3;
const PLAIN = 2;
const OLD_TLS = 1;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install chromium (sudo bash .ci/run installs it)`);
  }
  db = await startMariaDb();
  proxy = await startProxy({ backendPort: db.port });
  const ca = await fs.readFile(proxy.caFile);
  const connect = (ssl?: object) =>
    mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user, password, ssl });
  for (let i = 0; i < TLS13; i++) await (await connect({ ca, minVersion: 'TLSv1.3' })).end();
  for (let i = 0; i < TLS12 - 1; i++) await (await connect({ ca, maxVersion: 'TLSv1.2' })).end();
  openConnection = await connect({ ca, maxVersion: 'TLSv1.2' }); // stays open: active{tls} = 1
  for (let i = 0; i < PLAIN; i++) await (await connect()).end();
  for (let i = 0; i < OLD_TLS; i++) await sClient(proxy.port, '-tls1_1', proxy.caFile);
  const ended = TLS13 + TLS12 - 1 + PLAIN + OLD_TLS;
  const deadline = Date.now() + 10_000;
  while (proxy.logs().filter((l) => l.event === 'connection_closed').length < ended) {
    if (Date.now() > deadline) throw new Error('connections did not close');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  userDataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (message) => {
    if (message.type() === 'error') browserErrors.push(message.text());
  });
  page.on('pageerror', (error) => browserErrors.push(error.message));
}, 120_000);

afterAll(async () => {
  await context?.close();
  if (userDataDir) await fs.rm(userDataDir, { recursive: true, force: true });
  await openConnection?.end();
  await proxy?.stop();
  await db?.destroy();
});

/**
 * The browser globals, typed just enough for the page functions below (the test's TypeScript has no
 * DOM lib; the cast compiles away). Playwright runs those functions in the page without eval, so
 * the page's strict CSP (no 'unsafe-eval') stays on during the test.
 */
interface DomNode {
  getAttribute(name: string): string | null;
}
interface Win {
  document: {
    body: DomNode;
    documentElement: { scrollWidth: number };
    querySelector(selector: string): DomNode | null;
  };
  innerWidth: number;
}

/** data-figure -> data-value of every figure on the page. */
async function figures(): Promise<Record<string, number>> {
  const pairs = await page.$$eval('[data-figure]', (nodes) =>
    nodes.map((node) => [node.getAttribute('data-figure') ?? '', node.getAttribute('data-value') ?? '']),
  );
  return Object.fromEntries(pairs.map(([key, value]) => [key, value === '' ? NaN : Number(value)]));
}

async function loadPage(): Promise<void> {
  await page.goto(`http://127.0.0.1:${proxy.statusPort}/`);
  // two scrapes, so the per-second figures exist
  await page.waitForFunction(
    () => Number((globalThis as unknown as Win).document.body.getAttribute('data-scrapes')) >= 2,
    undefined,
    {
      timeout: 15_000,
    },
  );
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[pair[1]] = pair[2];
    out.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return out;
}

const P = 'mysql_tls_proxy_';
const sumOf = (samples: Sample[], name: string, where: (l: Record<string, string>) => boolean = () => true) =>
  samples.filter((s) => s.name === P + name && where(s.labels)).reduce((a, s) => a + s.value, 0);

/** histogram_quantile as Prometheus defines it, written independently of the page's script. */
function quantile(
  q: number,
  samples: Sample[],
  where: (l: Record<string, string>) => boolean = () => true,
): number {
  const byLe = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${P}tls_handshake_duration_seconds_bucket` || !where(s.labels)) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  const buckets = [...byLe.entries()].sort((a, b) => a[0] - b[0]);
  const total = buckets[buckets.length - 1][1];
  const rank = q * total;
  let previousLe = 0;
  let previousCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return previousLe;
      return previousLe + (le - previousLe) * ((rank - previousCount) / (count - previousCount));
    }
    previousLe = le;
    previousCount = count;
  }
  return NaN;
}

it('renders figures that equal /metrics', async () => {
  await loadPage();
  const shown = await figures();
  const samples = parse(await proxy.metricsText());
  const total = sumOf(samples, 'tls_handshakes_total');
  expect(total).toBe(TLS13 + TLS12);

  expect(shown['handshakes-total']).toBe(total);
  for (const version of ['TLSv1.2', 'TLSv1.3']) {
    const count = sumOf(samples, 'tls_handshakes_total', (l) => l.version === version);
    expect(shown[`handshakes-version:${version}`]).toBe(count);
    expect(shown[`share-version:${version}`]).toBeCloseTo(count / total, 9);
    expect(shown[`latency-count:${version}`]).toBe(
      sumOf(samples, 'tls_handshake_duration_seconds_count', (l) => l.version === version),
    );
    const byVersion = (l: Record<string, string>) => l.version === version;
    expect(shown[`p50:${version}`]).toBeCloseTo(quantile(0.5, samples, byVersion), 9);
    expect(shown[`p99:${version}`]).toBeCloseTo(quantile(0.99, samples, byVersion), 9);
    const mean =
      sumOf(samples, 'tls_handshake_duration_seconds_sum', byVersion) /
      sumOf(samples, 'tls_handshake_duration_seconds_count', byVersion);
    expect(shown[`mean:${version}`]).toBeCloseTo(mean, 9);
  }
  expect(shown['handshakes-version:TLSv1.3']).toBe(TLS13);
  expect(shown['handshakes-version:TLSv1.2']).toBe(TLS12);
  for (const s of samples.filter((x) => x.name === `${P}tls_handshakes_total`)) {
    expect(shown[`handshakes-cipher:${s.labels.version}/${s.labels.cipher}`]).toBe(s.value);
    expect(shown[`share-cipher:${s.labels.version}/${s.labels.cipher}`]).toBeCloseTo(s.value / total, 9);
  }
  expect(shown['p50:all']).toBeCloseTo(quantile(0.5, samples), 9);
  expect(shown['p99:all']).toBeCloseTo(quantile(0.99, samples), 9);
  expect(shown['p50:all']).toBeGreaterThan(0);

  for (const transport of ['tls', 'plain', 'pending']) {
    expect(shown[`active:${transport}`]).toBe(
      sumOf(samples, 'connections_active', (l) => l.transport === transport),
    );
  }
  expect(shown['active:tls']).toBe(1);
  expect(shown['active-total']).toBe(1);
  expect(shown['connections:tls']).toBe(TLS13 + TLS12);
  expect(shown['connections:plain']).toBe(PLAIN);
  expect(shown['auth:ok']).toBe(TLS13 + TLS12 + PLAIN);

  for (const s of samples.filter((x) => x.name === `${P}connections_rejected_total`)) {
    expect(shown[`rejected:${s.labels.reason}`]).toBe(s.value);
  }
  for (const s of samples.filter((x) => x.name === `${P}tls_handshake_failures_total`)) {
    expect(shown[`tls-failure:${s.labels.reason}`]).toBe(s.value);
  }
  expect(shown['tls-failure:unsupported_protocol']).toBe(OLD_TLS);
  expect(shown['refused-total']).toBe(OLD_TLS);

  const expiry = sumOf(samples, 'certificate_expiry_timestamp_seconds');
  expect(shown['cert-expiry']).toBe(expiry);
  expect(shown['cert-days']).toBe(Math.floor((expiry - Date.now() / 1000) / 86400));
  expect(shown['backend-up']).toBe(1);
  expect(shown['handshakes-per-second']).toBeGreaterThanOrEqual(0);

  // what people read matches the raw values
  expect(await page.textContent('[data-figure="handshakes-total"]')).toBe(String(total));
  expect(await page.textContent('[data-figure="share-version:TLSv1.3"]')).toBe(
    `${((TLS13 / total) * 100).toFixed(1)}%`,
  );
  expect(await page.textContent('#backend')).toBe('backend up');
  expect(await page.isHidden('#error')).toBe(true);
  expect(browserErrors).toEqual([]);
});

it('follows new traffic on its own', async () => {
  const before = (await figures())['handshakes-version:TLSv1.3'];
  const ca = await fs.readFile(proxy.caFile);
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: proxy.port,
    user,
    password,
    ssl: { ca, minVersion: 'TLSv1.3' },
  });
  await conn.end();
  await page.waitForFunction(
    (expected) =>
      Number(
        (globalThis as unknown as Win).document
          .querySelector('[data-figure="handshakes-version:TLSv1.3"]')
          ?.getAttribute('data-value'),
      ) === expected,
    before + 1,
    { timeout: 10_000 },
  );
  const rate = (await figures())['handshakes-per-second'];
  expect(rate).toBeGreaterThan(0);
});

it('charts handshakes per second by TLS version and lists the top clients from /clients', async () => {
  await loadPage();
  const ca = await fs.readFile(proxy.caFile);
  // While the page watches: TLS 1.2 and plaintext logins, so those series rise above 0.
  for (let i = 0; i < 3; i++) {
    await (
      await mysql.createConnection({
        host: '127.0.0.1',
        port: proxy.port,
        user,
        password,
        ssl: { ca, maxVersion: 'TLSv1.2' },
      })
    ).end();
    await (await mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user, password })).end();
  }
  await page.waitForFunction(
    () => {
      const { document } = globalThis as unknown as Win;
      const peak = (name: string) =>
        Number(document.querySelector('polyline[data-series="' + name + '"]')?.getAttribute('data-max'));
      return peak('TLSv1.2') > 0 && peak('plaintext') > 0;
    },
    undefined,
    { timeout: 15_000 },
  );
  const series = await page.$$eval('#version-chart polyline', (lines) =>
    lines.map((line) => ({
      name: line.getAttribute('data-series'),
      points: Number(line.getAttribute('data-points')),
      max: Number(line.getAttribute('data-max')),
      drawn: (line.getAttribute('points') ?? '').split(' ').filter(Boolean).length,
    })),
  );
  // The versions this test used (no TLS 1.1: refused before any handshake completed), plaintext last.
  expect(series.map((s) => s.name)).toEqual(['TLSv1.2', 'TLSv1.3', 'plaintext']);
  for (const s of series) {
    expect(s.points).toBeGreaterThanOrEqual(1);
    expect(s.drawn).toBe(s.points);
  }
  expect(series.find((s) => s.name === 'TLSv1.2')!.max).toBeGreaterThan(0);
  const legend = await figures();
  for (const name of ['TLSv1.2', 'TLSv1.3', 'plaintext'])
    expect(legend[`chart-rate:${name}`]).toBeGreaterThanOrEqual(0);

  // The table shows what /clients says once it caught up with the logins above.
  const report = (await (await fetch(`http://127.0.0.1:${proxy.statusPort}/clients?limit=20`)).json()) as {
    clients: Array<{
      user: string;
      address: string;
      transport: string;
      tls_version: string | null;
      logins: number;
    }>;
  };
  const expected = report.clients.map((c) => [
    c.user,
    c.address,
    c.transport === 'plain' ? 'plaintext' : c.tls_version,
    String(c.logins),
  ]);
  expect(expected).toEqual(
    expect.arrayContaining([
      [user, '127.0.0.1', 'TLSv1.2', String(TLS12 + 3)],
      [user, '127.0.0.1', 'plaintext', String(PLAIN + 3)],
    ]),
  );
  await page.waitForFunction(
    (want) =>
      Number(
        (globalThis as unknown as Win).document
          .querySelector('#clients tr[data-transport="plaintext"]')
          ?.getAttribute('data-logins'),
      ) === want,
    PLAIN + 3,
    { timeout: 10_000 },
  );
  const shown = await page.$$eval('#clients tbody tr', (rows) =>
    rows.map((row) => [
      row.getAttribute('data-user'),
      row.getAttribute('data-address'),
      row.getAttribute('data-transport'),
      row.getAttribute('data-logins'),
    ]),
  );
  expect(shown).toEqual(expected);
  expect(await page.textContent('#clients tbody tr[data-transport="plaintext"]')).toContain(user);
  await page.screenshot({ path: '/tmp/live-page-audit.png', fullPage: true });
  expect(browserErrors).toEqual([]);
});

it('fits a laptop and a 375 px phone screen (screenshots in /tmp)', async () => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await loadPage();
  await page.screenshot({ path: '/tmp/live-page.png', fullPage: true });
  await page.setViewportSize({ width: 375, height: 812 });
  await loadPage();
  await page.screenshot({ path: '/tmp/live-page-phone.png', fullPage: true });
  const overflow = await page.evaluate(() => {
    const { document, innerWidth } = globalThis as unknown as Win;
    return document.documentElement.scrollWidth - innerWidth;
  });
  expect(overflow).toBeLessThanOrEqual(0);
  // nor inside a card (a table wider than its card would scroll sideways)
  const cardOverflow = await page.$$eval('.card', (cards) =>
    cards.map((card) => card.scrollWidth - card.clientWidth).filter((excess) => excess > 0),
  );
  expect(cardOverflow).toEqual([]);
  expect(browserErrors).toEqual([]);
});

it('is served with a strict Content-Security-Policy and no external assets', async () => {
  const response = await fetch(`http://127.0.0.1:${proxy.statusPort}/`);
  const csp = response.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("script-src 'self'");
  expect(csp).not.toContain('unsafe-inline');
  const html = await response.text();
  expect(html).not.toMatch(/https?:\/\//);
  expect(html).not.toMatch(/<script>|style="/); // no inline code for the CSP to block
});
