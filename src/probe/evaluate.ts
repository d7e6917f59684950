/**
 * Scan facts judged against a policy: findings, each with an id, a severity and a one-line reason.
 * Pure: no I/O, no clock (the scan already turned dates into days to expiry).
 */
import type { ScanFacts, TlsVersion, VersionFacts } from './facts';
import { severityRank, type Policy, type Severity } from './policy';

export interface Finding {
  id: string;
  severity: Severity;
  reason: string;
}

const VERSION_LABEL: Record<TlsVersion, string> = {
  TLSv1: 'TLS 1.0',
  'TLSv1.1': 'TLS 1.1',
  'TLSv1.2': 'TLS 1.2',
  'TLSv1.3': 'TLS 1.3',
};
const LEGACY: readonly TlsVersion[] = ['TLSv1', 'TLSv1.1'];

/** TLS 1.3 suites and (EC)DHE key exchange are forward secret. */
export function isForwardSecret(standardName: string): boolean {
  return !standardName.includes('_WITH_') || /^TLS_(EC)?DHE_/.test(standardName);
}

/** GCM, CCM and ChaCha20-Poly1305 are AEAD; CBC and stream ciphers are not. */
export function isAead(standardName: string): boolean {
  return /_GCM_|_CCM|CHACHA20_POLY1305/.test(standardName);
}

type Emit = (id: string, severity: Severity, reason: string) => void;

function versionFindings(facts: ScanFacts, policy: Policy, emit: Emit): void {
  if (facts.greeting && !facts.greeting.tlsAdvertised)
    emit(
      'tls-not-advertised',
      'critical',
      'the server does not advertise TLS (CLIENT_SSL): every login is in clear',
    );
  else if (facts.acceptedVersions.length === 0) emit('no-tls', 'critical', 'no TLS version is accepted');
  const allowed = policy.versions.map((v) => VERSION_LABEL[v]).join(', ');
  for (const version of facts.acceptedVersions) {
    if (policy.versions.includes(version)) continue;
    const legacy = LEGACY.includes(version);
    emit(
      'version-not-allowed',
      legacy ? 'high' : 'medium',
      `${VERSION_LABEL[version]} is accepted (${legacy ? 'nothing below TLS 1.2 should be; ' : ''}policy ${policy.name} allows ${allowed || 'none'})`,
    );
  }
  for (const version of policy.versions) {
    if (!facts.acceptedVersions.includes(version) && facts.acceptedVersions.length > 0)
      emit(
        'version-missing',
        'info',
        `${VERSION_LABEL[version]} is not accepted (policy ${policy.name} allows it)`,
      );
  }
}

function cipherProblems(policy: Policy, name: string, standardName: string): string[] {
  const why: string[] = [];
  if (policy.ciphers && !policy.ciphers.includes(name) && !policy.ciphers.includes(standardName))
    why.push('not in the policy cipher list');
  if (policy.requireForwardSecrecy && !isForwardSecret(standardName)) why.push('not forward secret');
  if (policy.requireAead && !isAead(standardName)) why.push('not AEAD');
  return why;
}

function suiteFindings(v: VersionFacts, policy: Policy, emit: Emit): void {
  const label = VERSION_LABEL[v.version];
  for (const cipher of v.ciphers) {
    const why = cipherProblems(policy, cipher.name, cipher.standardName);
    if (why.length > 0)
      emit('cipher-not-allowed', 'medium', `${label} accepts ${cipher.name}: ${why.join(', ')}`);
  }
  for (const group of v.groups) {
    if (policy.groups && !policy.groups.includes(group))
      emit('group-not-allowed', 'medium', `${label} accepts group ${group}: not in policy ${policy.name}`);
  }
  if (v.dheBits !== undefined && v.dheBits < policy.minDheBits)
    emit(
      'weak-dh',
      'medium',
      `${label} DHE uses ${v.dheBits}-bit parameters (policy minimum ${policy.minDheBits})`,
    );
  for (const alg of v.signatureAlgorithms.filter((a) => /sha1/i.test(a)))
    emit('weak-signature-algorithm', 'medium', `${label} handshakes can be signed with ${alg} (SHA-1)`);
  if (v.serverCipherOrder === false)
    emit('client-cipher-order', 'low', `${label}: the server follows the client's cipher order, not its own`);
  if (v.probeErrors.length > 0)
    emit(
      'probe-errors',
      'low',
      `${label}: ${v.probeErrors.length} probe(s) got no answer, lists may be incomplete`,
    );
}

function behaviourFindings(facts: ScanFacts, policy: Policy, emit: Emit): void {
  const b = facts.behaviour;
  if (b.renegotiation.clientInitiated === 'allowed' && !policy.allowRenegotiation)
    emit(
      'renegotiation',
      'medium',
      'client-initiated renegotiation is allowed (a CPU denial-of-service lever)',
    );
  if (b.renegotiation.clientInitiated === 'allowed' && b.secureRenegotiation === 'no')
    emit(
      'insecure-renegotiation',
      'high',
      'renegotiation without RFC 5746 renegotiation_info (CVE-2009-3555)',
    );
  if (
    b.compression !== 'none' &&
    b.compression !== 'not applicable' &&
    b.compression !== 'unknown' &&
    !policy.allowCompression
  )
    emit('compression', 'high', `TLS compression is on (${b.compression}): CRIME`);
  if (facts.plaintext.login === 'offered' && facts.greeting?.tlsAdvertised)
    emit(
      'plaintext-login',
      policy.allowPlaintextLogin ? 'low' : 'high',
      'TLS is optional: a login without TLS is processed' +
        (facts.plaintext.loginDetail ? ` (${facts.plaintext.loginDetail})` : ''),
    );
}

function leafFindings(facts: ScanFacts, policy: Policy, emit: Emit): void {
  const leaf = facts.leaf;
  if (!leaf) return;
  if (leaf.daysToExpiry < 0)
    emit('certificate-expired', 'critical', `the certificate expired on ${leaf.notAfter}`);
  else if (leaf.daysToExpiry < policy.minDaysValid)
    emit(
      'certificate-expiring',
      'medium',
      `the certificate expires in ${leaf.daysToExpiry} days (policy minimum ${policy.minDaysValid})`,
    );
  const rsa = leaf.keyType.startsWith('RSA');
  const minimum = rsa ? policy.minRsaBits : policy.minEcBits;
  if (leaf.keyBits > 0 && leaf.keyBits < minimum)
    emit(
      'weak-key',
      'high',
      `the certificate key is ${leaf.keyType} (${leaf.keyBits} bits; policy minimum ${minimum})`,
    );
  if (/sha1|md5/i.test(leaf.signatureAlgorithm))
    emit('weak-certificate-signature', 'high', `the certificate is signed with ${leaf.signatureAlgorithm}`);
  if (!leaf.sanMatch)
    emit(
      'name-mismatch',
      'high',
      leaf.sanMatchError ?? `the certificate is not valid for ${facts.serverName}`,
    );
}

function chainFindings(facts: ScanFacts, policy: Policy, emit: Emit): void {
  const v = facts.verification;
  if (policy.requireVerifiedChain && v.chainError)
    emit(
      'chain-not-verified',
      'high',
      `the certificate does not verify for ${v.serverName} against ${v.ca}: ${v.chainError}`,
    );
  const chain = facts.chainFacts;
  if (!chain) return;
  if (!chain.complete)
    emit(
      'chain-incomplete',
      'high',
      'the chain sent does not reach a trusted root (intermediate missing, or its CA is not trusted here)',
    );
  if (!chain.inOrder)
    emit('chain-order', 'low', 'the chain is not sent in order (each certificate followed by its issuer)');
  if (chain.extraneous > 0)
    emit(
      'chain-extraneous',
      'low',
      `${chain.extraneous} certificate(s) sent that are not on the leaf's path`,
    );
}

/** Every finding, in a stable order, with the policy's severity overrides applied. */
export function evaluate(facts: ScanFacts, policy: Policy): Finding[] {
  const findings: Finding[] = [];
  if (facts.unreachable) return findings; // nothing was probed: exit code 2 says so
  const emit: Emit = (id, severity, reason) =>
    findings.push({ id, severity: policy.severities[id] ?? severity, reason });
  versionFindings(facts, policy, emit);
  for (const v of facts.versions.filter((x) => x.accepted)) suiteFindings(v, policy, emit);
  behaviourFindings(facts, policy, emit);
  leafFindings(facts, policy, emit);
  chainFindings(facts, policy, emit);
  return findings;
}

export function atOrAbove(findings: Finding[], threshold: Severity): Finding[] {
  return findings.filter((f) => severityRank(f.severity) >= severityRank(threshold));
}

/** 0: nothing at or above --fail-on; 1: findings; 2: the endpoint could not be probed. */
export function exitCode(facts: ScanFacts, findings: Finding[], failOn: Severity): 0 | 1 | 2 {
  if (facts.unreachable) return 2;
  return atOrAbove(findings, failOn).length > 0 ? 1 : 0;
}
