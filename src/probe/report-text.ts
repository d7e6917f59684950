/** The human-readable `check` report (--json prints the same facts as one object). */
import type { Finding } from './evaluate';
import type { ScanFacts, VersionFacts } from './facts';

export interface CheckReport extends ScanFacts {
  policy: string;
  failOn: string;
  findings: Finding[];
  /** Nothing at or above --fail-on. */
  ok: boolean;
  /** The reasons of the findings at or above --fail-on. */
  problems: string[];
}

const LEGACY = ['TLSv1', 'TLSv1.1'];

function versionLines(v: VersionFacts): string[] {
  const detail = v.accepted
    ? `${v.cipher}${v.cipherStandardName && v.cipherStandardName !== v.cipher ? ` (${v.cipherStandardName})` : ''}`
    : (v.error ?? '');
  const weak = v.accepted && LEGACY.includes(v.version) ? '  <- below TLS 1.2' : '';
  const lines = [
    `${v.version.padEnd(9)} ${(v.accepted ? 'accepted' : 'refused').padEnd(9)} ${detail}${weak}`,
  ];
  if (!v.accepted) return lines;
  const order = v.serverCipherOrder === undefined ? 'n/a' : v.serverCipherOrder ? 'server' : 'client';
  lines.push(`          ciphers (${v.ciphers.length}, order: ${order})`);
  for (const c of v.ciphers) lines.push(`            ${c.name.padEnd(32)} ${c.standardName}`);
  lines.push(
    `          groups    ${v.groups.join(' ') || '(none)'}${v.dheBits ? `; DHE ${v.dheBits} bits` : ''}`,
  );
  if (v.signatureAlgorithms.length > 0) lines.push(`          sigalgs   ${v.signatureAlgorithms.join(' ')}`);
  for (const e of v.probeErrors) lines.push(`          no answer ${e}`);
  return lines;
}

function behaviourLines(r: CheckReport): string[] {
  const b = r.behaviour;
  const res = b.resumption;
  const pair = (x: { offered: string; resumed: string }): string =>
    `offered ${x.offered}, resumes ${x.resumed}`;
  return [
    `renegotiation (client-initiated) ${b.renegotiation.clientInitiated}${b.renegotiation.detail ? ` (${b.renegotiation.detail})` : ''}; secure renegotiation ${b.secureRenegotiation}`,
    `resumption    session id: ${pair(res.sessionId)}; ticket TLS 1.2: ${pair(res.ticketTls12)}; ticket TLS 1.3: ${pair(res.ticketTls13)}`,
    `compression   ${b.compression}`,
  ];
}

function certificateLines(r: CheckReport): string[] {
  const lines = ['', 'certificate chain'];
  if (r.chain.length === 0) lines.push('  (none received)');
  r.chain.forEach((c, i) => {
    lines.push(
      `  ${i}  subject   ${c.subject}`,
      `     issuer    ${c.issuer}`,
      ...(c.sans.length > 0 ? [`     SANs      ${c.sans.join(', ')}`] : []),
      `     notAfter  ${c.notAfter}`,
      `     key       ${c.keyType}, signed ${c.signatureAlgorithm}`,
    );
  });
  if (r.leaf)
    lines.push(
      `  leaf: ${r.leaf.daysToExpiry} days to expiry; name ${r.leaf.sanMatch ? 'matches' : 'does NOT match'} ${r.serverName}`,
    );
  const cf = r.chainFacts;
  if (cf) {
    lines.push(
      `  as sent: ${cf.sent.length} certificate(s), ${cf.inOrder ? 'in order' : 'OUT OF ORDER'}, ${cf.complete ? 'complete' : 'INCOMPLETE'}` +
        `${cf.extraneous ? `, ${cf.extraneous} extraneous` : ''}${cf.orderObserved ? '' : ' (TLS 1.3 only: order as rebuilt by the client)'}`,
    );
  }
  return lines;
}

export function checkText(r: CheckReport): string {
  const lines = [`check ${r.target} (server name ${r.serverName})`, ''];
  if (r.unreachable) {
    lines.push(`could not probe: ${r.unreachable}`, `verdict       ERROR (exit 2)`);
    return lines.join('\n') + '\n';
  }
  if (r.greeting) {
    lines.push(
      `greeting      ${r.greeting.serverVersion}, connection id ${r.greeting.connectionId}, auth plugin ${r.greeting.authPlugin || '(none)'}`,
    );
  }
  lines.push(
    `plaintext     greeting in clear; TLS ${r.plaintext.tlsAdvertised ? 'advertised' : 'NOT advertised'}; plaintext login ${r.plaintext.login}` +
      (r.plaintext.loginDetail ? ` (${r.plaintext.loginDetail})` : ''),
    ...behaviourLines(r),
    '',
    'version   result    cipher / reason',
    ...r.versions.flatMap(versionLines),
    ...certificateLines(r),
    '',
    `verification  ${r.verification.verified ? 'OK' : 'FAILED'} against ${r.verification.ca} for ${r.verification.serverName}` +
      (r.verification.error ? `: ${r.verification.error}` : ''),
    '',
    `findings (policy ${r.policy})`,
    ...(r.findings.length === 0
      ? ['  (none)']
      : r.findings.map((f) => `  ${f.severity.padEnd(8)} ${f.id.padEnd(26)} ${f.reason}`)),
    '',
    `verdict       ${r.ok ? 'PASS' : 'FAIL'} (fail on ${r.failOn} and above; scan took ${r.durationMs} ms)`,
  );
  return lines.join('\n') + '\n';
}
