/**
 * --compare: the facts that differ between two scans (before/after a change, proxy vs database).
 * Pure. Lists are compared as sets ("only in A" / "only in B"), single values as "A -> B".
 */
import type { ScanFacts, TlsVersion, VersionFacts } from './facts';
import type { Finding } from './evaluate';

export interface Difference {
  fact: string;
  a: string;
  b: string;
}

export interface Scanned {
  facts: ScanFacts;
  findings: Finding[];
}

function setDiff(fact: string, a: readonly string[], b: readonly string[], out: Difference[]): void {
  const onlyA = a.filter((x) => !b.includes(x));
  const onlyB = b.filter((x) => !a.includes(x));
  if (onlyA.length > 0 || onlyB.length > 0)
    out.push({
      fact,
      a: onlyA.length > 0 ? `only here: ${onlyA.join(', ')}` : '-',
      b: onlyB.length > 0 ? `only here: ${onlyB.join(', ')}` : '-',
    });
}

function valueDiff(fact: string, a: unknown, b: unknown, out: Difference[]): void {
  const show = (v: unknown): string => (v === undefined ? '(none)' : String(v));
  if (show(a) !== show(b)) out.push({ fact, a: show(a), b: show(b) });
}

function versionOf(facts: ScanFacts, version: TlsVersion): VersionFacts | undefined {
  return facts.versions.find((v) => v.version === version && v.accepted);
}

function versionDiffs(a: ScanFacts, b: ScanFacts, out: Difference[]): void {
  setDiff('accepted versions', a.acceptedVersions, b.acceptedVersions, out);
  for (const version of a.acceptedVersions.filter((v) => b.acceptedVersions.includes(v))) {
    const va = versionOf(a, version)!;
    const vb = versionOf(b, version)!;
    setDiff(
      `${version} ciphers`,
      va.ciphers.map((c) => c.name),
      vb.ciphers.map((c) => c.name),
      out,
    );
    setDiff(`${version} groups`, va.groups, vb.groups, out);
    setDiff(`${version} signature algorithms`, va.signatureAlgorithms, vb.signatureAlgorithms, out);
    valueDiff(`${version} server cipher order`, va.serverCipherOrder, vb.serverCipherOrder, out);
    valueDiff(`${version} DHE bits`, va.dheBits, vb.dheBits, out);
  }
}

function behaviourDiffs(a: ScanFacts, b: ScanFacts, out: Difference[]): void {
  const ba = a.behaviour;
  const bb = b.behaviour;
  valueDiff('renegotiation', ba.renegotiation.clientInitiated, bb.renegotiation.clientInitiated, out);
  valueDiff('secure renegotiation', ba.secureRenegotiation, bb.secureRenegotiation, out);
  valueDiff('compression', ba.compression, bb.compression, out);
  for (const kind of ['sessionId', 'ticketTls12', 'ticketTls13'] as const) {
    const ra = ba.resumption[kind];
    const rb = bb.resumption[kind];
    valueDiff(
      `resumption ${kind}`,
      `offered ${ra.offered}, resumed ${ra.resumed}`,
      `offered ${rb.offered}, resumed ${rb.resumed}`,
      out,
    );
  }
  valueDiff('TLS advertised', a.plaintext.tlsAdvertised, b.plaintext.tlsAdvertised, out);
  valueDiff('plaintext login', a.plaintext.login, b.plaintext.login, out);
}

function certificateDiffs(a: ScanFacts, b: ScanFacts, out: Difference[]): void {
  valueDiff('certificate subject', a.chain[0]?.subject, b.chain[0]?.subject, out);
  valueDiff('certificate key', a.leaf?.keyType, b.leaf?.keyType, out);
  valueDiff('certificate signature', a.leaf?.signatureAlgorithm, b.leaf?.signatureAlgorithm, out);
  valueDiff('certificate notAfter', a.leaf?.notAfter, b.leaf?.notAfter, out);
  valueDiff('certificate name match', a.leaf?.sanMatch, b.leaf?.sanMatch, out);
  valueDiff('chain in order', a.chainFacts?.inOrder, b.chainFacts?.inOrder, out);
  valueDiff('chain complete', a.chainFacts?.complete, b.chainFacts?.complete, out);
  valueDiff('chain verified', a.verification.verified, b.verification.verified, out);
}

export function compareScans(a: Scanned, b: Scanned): Difference[] {
  const out: Difference[] = [];
  valueDiff('reachable', a.facts.unreachable ?? 'yes', b.facts.unreachable ?? 'yes', out);
  versionDiffs(a.facts, b.facts, out);
  behaviourDiffs(a.facts, b.facts, out);
  certificateDiffs(a.facts, b.facts, out);
  const key = (f: Finding): string => `${f.severity} ${f.id}: ${f.reason}`;
  setDiff('findings', a.findings.map(key), b.findings.map(key), out);
  return out;
}

export function compareText(a: ScanFacts, b: ScanFacts, differences: Difference[]): string {
  if (differences.length === 0) return `compare ${a.target} with ${b.target}: no differences\n`;
  const lines = [`compare A=${a.target} with B=${b.target}: ${differences.length} difference(s)`, ''];
  for (const d of differences) lines.push(`${d.fact}`, `  A  ${d.a}`, `  B  ${d.b}`);
  return lines.join('\n') + '\n';
}
