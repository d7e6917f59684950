/**
 * `check`'s scan: the greeting, each TLS version, then (for the versions accepted) every cipher,
 * group and signature algorithm, plus renegotiation, resumption, compression, plaintext login and
 * the certificate chain. All probes share one concurrency bound (--concurrency).
 */
import net from 'node:net';
import tls from 'node:tls';
import { Capability, hasCapability } from '../protocol';
import { probePlaintextLogin, probeRenegotiation, probeResumption } from './behaviour';
import { anchorsFor, certificateInfo, chainFacts, leafFacts, peerChainDer } from './certificate';
import { enumerateVersion } from './enumerate';
import type {
  BehaviourFacts,
  ChainFacts,
  PlaintextFacts,
  ScanFacts,
  TlsVersion,
  VersionFacts,
} from './facts';
import { TLS_VERSIONS } from './facts';
import { probeFirstFlight, type FirstFlight } from './first-flight';
import { createLimiter, type Limiter } from './limit';
import { openGreeting, ProbeError, withHandshake, type ProbeTarget } from './mysql-tls';

export interface ScanOptions {
  host: string;
  port: number;
  /** PEM; the system store when undefined. */
  ca?: string;
  caLabel?: string;
  serverName?: string;
  timeoutMs?: number;
  concurrency?: number;
}

interface VersionOutcome {
  facts: VersionFacts;
  peer?: tls.DetailedPeerCertificate;
  authorized?: boolean;
  authorizationError?: string;
}

async function probeVersion(
  target: ProbeTarget,
  limit: Limiter,
  version: TlsVersion,
  ca?: string,
): Promise<VersionOutcome> {
  const empty = { ciphers: [], groups: [], signatureAlgorithms: [], probeErrors: [] };
  // Security level 0 so the CLIENT offers TLS 1.0/1.1 and SHA-1 signatures; harmless for 1.2/1.3.
  const options = { minVersion: version, maxVersion: version, ciphers: 'DEFAULT:@SECLEVEL=0', ca };
  const result = await limit(() =>
    withHandshake(target, options, (socket) => ({
      protocol: socket.getProtocol(),
      cipher: socket.getCipher(),
      peer: socket.getPeerCertificate(true),
      authorized: socket.authorized,
      authorizationError: socket.authorizationError ? String(socket.authorizationError) : undefined,
    })),
  );
  if (!result.ok) {
    return {
      facts: {
        version,
        accepted: false,
        error: result.failure.reason,
        errorKind: result.failure.kind,
        ...empty,
      },
    };
  }
  const { protocol, cipher, ...rest } = result.value;
  const accepted = protocol === version;
  const facts: VersionFacts = {
    version,
    accepted,
    cipher: cipher.name,
    cipherStandardName: cipher.standardName,
    ...empty,
  };
  if (!accepted) facts.error = `negotiated ${protocol} instead`;
  return { facts, ...rest };
}

function verificationOf(
  best: VersionOutcome | undefined,
  serverName: string,
  caLabel: string,
): ScanFacts['verification'] {
  const base = { verified: false, ca: caLabel, serverName };
  if (!best?.peer) return { ...base, error: 'no TLS handshake succeeded' };
  const chainError = best.authorized ? undefined : (best.authorizationError ?? 'not authorized');
  const error = chainError ?? tls.checkServerIdentity(serverName, best.peer)?.message;
  return { ...base, verified: error === undefined, error, chainError };
}

async function plaintextFacts(target: ProbeTarget, tlsAdvertised: boolean): Promise<PlaintextFacts> {
  const base = { greeting: true, tlsAdvertised };
  if (!tlsAdvertised)
    return { ...base, login: 'offered', loginDetail: 'the greeting does not offer TLS (no CLIENT_SSL)' };
  try {
    return { ...base, ...(await probePlaintextLogin(target)) };
  } catch (error) {
    return { ...base, login: 'unknown', loginDetail: (error as Error).message };
  }
}

async function firstFlight(target: ProbeTarget, limit: Limiter): Promise<FirstFlight | undefined> {
  try {
    return await limit(() => probeFirstFlight(target));
  } catch {
    return undefined; // no TLS 1.2 or older: compression and session ids do not apply
  }
}

function chainOf(
  flight: FirstFlight | undefined,
  best: VersionOutcome | undefined,
  ca?: string,
): ChainFacts | undefined {
  const anchors = anchorsFor(ca);
  if (flight && flight.certificates.length > 0) return chainFacts(flight.certificates, true, anchors);
  const seen = peerChainDer(best?.peer);
  if (seen.length === 0) return undefined;
  // TLS 1.3 encrypts the Certificate message: Node's view, minus what it added from the trust store.
  const trusted = new Set(anchors().map((a) => a.fingerprint256));
  const sent = seen.filter((der, i) => i === 0 || !trusted.has(certificateInfo(der).fingerprintSha256));
  return chainFacts(sent, false, anchors);
}

async function behaviourOf(
  target: ProbeTarget,
  limit: Limiter,
  accepted: TlsVersion[],
  flight: FirstFlight | undefined,
): Promise<BehaviourFacts> {
  const tls12 = accepted.includes('TLSv1.2');
  const tls13 = accepted.includes('TLSv1.3');
  const [renegotiation, resumption] = await Promise.all([
    tls12
      ? probeRenegotiation(target, limit)
      : Promise.resolve({ clientInitiated: 'not applicable' as const }),
    probeResumption(target, limit, {
      tls12,
      tls13,
      sessionIdOffered: flight ? (flight.sessionIdOffered ? 'yes' : 'no') : 'unknown',
    }),
  ]);
  const old = accepted.some((v) => v !== 'TLSv1.3');
  return {
    renegotiation,
    secureRenegotiation: flight
      ? flight.secureRenegotiation
        ? 'yes'
        : 'no'
      : old
        ? 'unknown'
        : 'not applicable',
    resumption,
    compression: flight ? flight.compression : old ? 'unknown' : 'not applicable',
  };
}

function unreachableFacts(target: ProbeTarget, started: number, error: ProbeError): ScanFacts {
  const refused = /^ERR (\d+): (.*)$/s.exec(error.failure.reason);
  return {
    target: targetLabel(target),
    serverName: target.serverName,
    refusedWith: refused ? { code: Number(refused[1]), message: refused[2] } : undefined,
    plaintext: { greeting: false, tlsAdvertised: false, login: 'unknown', error: error.failure.reason },
    versions: [],
    acceptedVersions: [],
    behaviour: {
      renegotiation: { clientInitiated: 'unknown' },
      secureRenegotiation: 'unknown',
      resumption: {
        sessionId: { offered: 'unknown', resumed: 'unknown' },
        ticketTls12: { offered: 'unknown', resumed: 'unknown' },
        ticketTls13: { offered: 'unknown', resumed: 'unknown' },
      },
      compression: 'unknown',
    },
    chain: [],
    verification: { verified: false, ca: '', serverName: target.serverName, error: 'not probed' },
    unreachable: error.failure.reason,
    durationMs: Date.now() - started,
  };
}

function targetLabel(target: ProbeTarget): string {
  return net.isIPv6(target.host) ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}

export async function scanEndpoint(options: ScanOptions): Promise<ScanFacts> {
  const started = Date.now();
  const serverName = options.serverName ?? options.host;
  const target: ProbeTarget = {
    host: options.host,
    port: options.port,
    serverName,
    timeoutMs: options.timeoutMs ?? 5000,
  };
  const limit = createLimiter(options.concurrency ?? 8);
  let greeting;
  try {
    const opened = await openGreeting(target);
    opened.socket.destroy();
    greeting = opened.greeting;
  } catch (error) {
    if (error instanceof ProbeError) return unreachableFacts(target, started, error);
    throw error;
  }
  const tlsAdvertised = hasCapability(greeting.capabilities, Capability.SSL);
  const [outcomes, flight, plaintext] = await Promise.all([
    Promise.all(TLS_VERSIONS.map((v) => probeVersion(target, limit, v, options.ca))),
    tlsAdvertised ? firstFlight(target, limit) : Promise.resolve(undefined),
    plaintextFacts(target, tlsAdvertised),
  ]);
  const acceptedVersions = outcomes.filter((o) => o.facts.accepted).map((o) => o.facts.version);
  const [details, behaviour] = await Promise.all([
    Promise.all(
      outcomes.map(async (o) =>
        o.facts.accepted
          ? { ...o.facts, ...(await enumerateVersion(target, limit, o.facts.version)) }
          : o.facts,
      ),
    ),
    behaviourOf(target, limit, acceptedVersions, flight),
  ]);
  const best = [...outcomes].reverse().find((o) => o.facts.accepted);
  const chainDer = peerChainDer(best?.peer);
  return {
    target: targetLabel(target),
    serverName,
    greeting: {
      serverVersion: greeting.serverVersion,
      connectionId: greeting.connectionId,
      tlsAdvertised,
      authPlugin: greeting.authPluginName,
    },
    plaintext,
    versions: details,
    acceptedVersions,
    behaviour,
    chain: chainDer.map(certificateInfo),
    chainFacts: chainOf(flight, best, options.ca),
    leaf: chainDer[0] ? leafFacts(chainDer[0], serverName) : undefined,
    verification: verificationOf(best, serverName, options.caLabel ?? (options.ca ? '--ca' : 'system store')),
    durationMs: Date.now() - started,
  };
}
