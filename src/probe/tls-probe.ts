/**
 * `check`: probes a MySQL endpoint's in-band TLS. Each TLS version is tried on its own connection
 * with a client that really offers it (TLS 1.0/1.1 need OpenSSL security level 0 on the client
 * side, or Node's OpenSSL would refuse to send them and we'd blame the server), plus one plaintext
 * look at the greeting. No credentials are ever sent.
 */
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import {
  Capability,
  hasCapability,
  isErrPacket,
  PacketReader,
  parseErrPacket,
  parseGreeting,
} from '../protocol';
import { describeCertificate } from '../tls/cert-files';
import { classifyError, MysqlClientError } from '../client/errors';
import { MysqlConnection } from '../client/mysql-client';

export const PROBED_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
export type ProbedVersion = (typeof PROBED_VERSIONS)[number];
const WEAK_VERSIONS: ReadonlyArray<ProbedVersion> = ['TLSv1', 'TLSv1.1'];
/** A greeting (or ERR) is a few hundred bytes; a longer announced packet is not MySQL talking. */
const GREETING_MAX_PAYLOAD = 64 * 1024;

export interface VersionProbe {
  version: ProbedVersion;
  accepted: boolean;
  /** OpenSSL name and IANA name of the negotiated cipher. */
  cipher?: string;
  cipherStandardName?: string;
  /** Why the handshake failed: the TLS alert or OpenSSL reason, e.g. protocol_version. */
  error?: string;
  errorKind?: string;
}

export interface CertificateInfo {
  subject: string;
  issuer: string;
  sans: string[];
  notAfter: string;
  keyType: string;
  fingerprintSha256: string;
}

export interface CheckReport {
  target: string;
  serverName: string;
  greeting?: {
    serverVersion: string;
    connectionId: number;
    tlsAdvertised: boolean;
    authPlugin: string;
  };
  /** ERR sent instead of a greeting (e.g. 1130 host not allowed). */
  refusedWith?: { code: number; message: string };
  plaintext: {
    /** The server greeted in clear (every MySQL server does: TLS starts in-band). */
    greeting: boolean;
    tlsAdvertised: boolean;
    /** Not attempted: logging in would need credentials. */
    plaintextLogin: 'not attempted (unknown)';
    error?: string;
  };
  versions: VersionProbe[];
  acceptedVersions: ProbedVersion[];
  chain: CertificateInfo[];
  verification: {
    verified: boolean;
    ca: string;
    serverName: string;
    error?: string;
  };
  ok: boolean;
  problems: string[];
}

export interface CheckOptions {
  host: string;
  port: number;
  /** PEM; the system store when undefined. */
  ca?: string;
  caLabel?: string;
  serverName?: string;
  timeoutMs?: number;
}

interface TlsOutcome {
  probe: VersionProbe;
  peer?: tls.DetailedPeerCertificate;
  authorized?: boolean;
  authorizationError?: string;
}

async function probeVersion(
  options: CheckOptions,
  version: ProbedVersion,
  serverName: string,
): Promise<TlsOutcome> {
  const secureContext = tls.createSecureContext({
    minVersion: version,
    maxVersion: version,
    // Security level 0 so the CLIENT offers TLS 1.0/1.1 and SHA-1 signatures; harmless for 1.2/1.3.
    ciphers: 'DEFAULT:@SECLEVEL=0',
    ca: options.ca,
  });
  let connection: MysqlConnection | undefined;
  try {
    connection = await MysqlConnection.connect({
      host: options.host,
      port: options.port,
      user: '',
      secureContext,
      serverName,
      rejectUnauthorized: false, // verification is reported, not enforced, so every version is seen
      stopAfterTls: true,
      timeoutMs: options.timeoutMs ?? 5000,
    });
    const socket = connection.tlsSocket!;
    const cipher = socket.getCipher();
    const outcome: TlsOutcome = {
      probe: {
        version,
        accepted: socket.getProtocol() === version,
        cipher: cipher?.name,
        cipherStandardName: cipher?.standardName,
      },
      peer: socket.getPeerCertificate(true),
      authorized: socket.authorized,
      authorizationError: socket.authorizationError ? String(socket.authorizationError) : undefined,
    };
    if (!outcome.probe.accepted) outcome.probe.error = `negotiated ${socket.getProtocol()} instead`;
    return outcome;
  } catch (error) {
    const info = error instanceof MysqlClientError ? error.toJSON() : classifyError(error, 'tls');
    const why =
      info.kind === 'tls_alert'
        ? (info.reason ?? 'tls error')
        : info.kind === 'mysql_err'
          ? `ERR ${info.code}: ${info.message}`
          : `${info.kind}${info.errno ? ` (${info.errno})` : ''}: ${info.message}`;
    return { probe: { version, accepted: false, error: why, errorKind: info.kind } };
  } finally {
    await connection?.close();
  }
}

/** Reads the greeting over plain TCP and hangs up (no SSLRequest, no credentials). */
function probePlaintext(
  options: CheckOptions,
): Promise<Pick<CheckReport, 'greeting' | 'refusedWith' | 'plaintext'>> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: options.host, port: options.port });
    const reader = new PacketReader(GREETING_MAX_PAYLOAD);
    const timer = setTimeout(
      () => finish(new Error(`no greeting within ${options.timeoutMs ?? 5000} ms`)),
      options.timeoutMs ?? 5000,
    );
    const finish = (error?: Error, payload?: Buffer): void => {
      clearTimeout(timer);
      socket.destroy();
      const plaintext: CheckReport['plaintext'] = {
        greeting: false,
        tlsAdvertised: false,
        plaintextLogin: 'not attempted (unknown)',
      };
      if (error || !payload)
        return resolve({ plaintext: { ...plaintext, error: error?.message ?? 'no greeting' } });
      try {
        if (isErrPacket(payload)) {
          const err = parseErrPacket(payload);
          return resolve({
            refusedWith: { code: err.code, message: err.message },
            plaintext: { ...plaintext, error: `ERR ${err.code} instead of a greeting: ${err.message}` },
          });
        }
        const greeting = parseGreeting(payload);
        const tlsAdvertised = hasCapability(greeting.capabilities, Capability.SSL);
        resolve({
          greeting: {
            serverVersion: greeting.serverVersion,
            connectionId: greeting.connectionId,
            tlsAdvertised,
            authPlugin: greeting.authPluginName,
          },
          plaintext: { ...plaintext, greeting: true, tlsAdvertised },
        });
      } catch (e) {
        resolve({ plaintext: { ...plaintext, error: `not a MySQL greeting: ${(e as Error).message}` } });
      }
    };
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      let packet;
      try {
        packet = reader.read();
      } catch (error) {
        return finish(new Error(`not a MySQL greeting: ${(error as Error).message}`));
      }
      if (packet) finish(undefined, packet.payload);
    });
    socket.on('error', (error) => finish(error));
    socket.on('end', () => finish(new Error('the server closed the connection before greeting')));
  });
}

/** The certificate chain as sent (and completed from the trust store), leaf first. */
export function chainOf(peer: tls.DetailedPeerCertificate | undefined): CertificateInfo[] {
  const chain: CertificateInfo[] = [];
  const seen = new Set<string>();
  let cert: tls.DetailedPeerCertificate | undefined = peer;
  while (cert && cert.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    const info = describeCertificate(new X509Certificate(cert.raw).toString());
    chain.push({
      subject: info.subject,
      issuer: info.issuer,
      sans: info.sans,
      notAfter: info.notAfter.toISOString(),
      keyType: info.keyType,
      fingerprintSha256: info.fingerprintSha256,
    });
    cert = cert.issuerCertificate;
  }
  return chain;
}

export async function checkEndpoint(options: CheckOptions): Promise<CheckReport> {
  const serverName = options.serverName ?? options.host;
  const plain = await probePlaintext(options);
  const outcomes: TlsOutcome[] = [];
  for (const version of PROBED_VERSIONS) outcomes.push(await probeVersion(options, version, serverName));
  const versions = outcomes.map((o) => o.probe);
  const acceptedVersions = versions.filter((v) => v.accepted).map((v) => v.version);
  // The certificate as seen with the best version the server accepts.
  const best = [...outcomes].reverse().find((o) => o.probe.accepted);
  let verification: CheckReport['verification'] = {
    verified: false,
    ca: options.caLabel ?? (options.ca ? '--ca' : 'system store'),
    serverName,
    error: 'no TLS handshake succeeded',
  };
  if (best?.peer) {
    let error: string | undefined = best.authorized
      ? undefined
      : (best.authorizationError ?? 'not authorized');
    if (!error) {
      const identity = tls.checkServerIdentity(serverName, best.peer);
      if (identity) error = identity.message;
    }
    verification = { ...verification, verified: error === undefined, error };
  }
  const problems: string[] = [];
  if (plain.refusedWith)
    problems.push(`refused with ERR ${plain.refusedWith.code}: ${plain.refusedWith.message}`);
  else if (plain.greeting && !plain.greeting.tlsAdvertised)
    problems.push('the server does not advertise TLS (CLIENT_SSL)');
  else if (plain.plaintext.error) problems.push(plain.plaintext.error);
  for (const weak of WEAK_VERSIONS) {
    if (acceptedVersions.includes(weak))
      problems.push(
        `${weak === 'TLSv1' ? 'TLS 1.0' : 'TLS 1.1'} is accepted (nothing below TLS 1.2 should be)`,
      );
  }
  if (acceptedVersions.length === 0) problems.push('no TLS version is accepted');
  if (!verification.verified)
    problems.push(`the certificate does not verify for ${serverName}: ${verification.error}`);
  return {
    target: net.isIPv6(options.host)
      ? `[${options.host}]:${options.port}`
      : `${options.host}:${options.port}`,
    serverName,
    ...plain,
    versions,
    acceptedVersions,
    chain: chainOf(best?.peer),
    verification,
    ok: problems.length === 0,
    problems,
  };
}

export function checkText(report: CheckReport): string {
  const lines = [`check ${report.target} (server name ${report.serverName})`, ''];
  if (report.greeting) {
    lines.push(
      `greeting      ${report.greeting.serverVersion}, connection id ${report.greeting.connectionId}, ` +
        `auth plugin ${report.greeting.authPlugin || '(none)'}`,
    );
  }
  lines.push(
    `plaintext     ${
      report.plaintext.greeting
        ? `greeting in clear; TLS ${report.plaintext.tlsAdvertised ? 'advertised' : 'NOT advertised'}; plaintext login not attempted (no credentials sent), so whether it is allowed is unknown`
        : `no greeting: ${report.plaintext.error}`
    }`,
    '',
    'version   result    cipher / reason',
  );
  for (const v of report.versions) {
    const detail = v.accepted
      ? `${v.cipher}${v.cipherStandardName && v.cipherStandardName !== v.cipher ? ` (${v.cipherStandardName})` : ''}`
      : (v.error ?? '');
    const weak = v.accepted && WEAK_VERSIONS.includes(v.version) ? '  <- below TLS 1.2' : '';
    lines.push(`${v.version.padEnd(9)} ${(v.accepted ? 'accepted' : 'refused').padEnd(9)} ${detail}${weak}`);
  }
  lines.push('', 'certificate chain');
  if (report.chain.length === 0) lines.push('  (none received)');
  report.chain.forEach((c, i) => {
    lines.push(
      `  ${i}  subject   ${c.subject}`,
      `     issuer    ${c.issuer}`,
      ...(c.sans.length > 0 ? [`     SANs      ${c.sans.join(', ')}`] : []),
      `     notAfter  ${c.notAfter}`,
      `     key       ${c.keyType}`,
    );
  });
  lines.push(
    '',
    `verification  ${report.verification.verified ? 'OK' : 'FAILED'} against ${report.verification.ca} for ${report.verification.serverName}` +
      (report.verification.error ? `: ${report.verification.error}` : ''),
    `verdict       ${report.ok ? 'PASS' : 'FAIL'}`,
    ...report.problems.map((p) => `  - ${p}`),
  );
  return lines.join('\n') + '\n';
}
