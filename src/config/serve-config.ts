import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { LOG_LEVELS, type LogLevel } from '../observability/logger';
import { SERVE_DEFAULTS, TLS_VERSIONS, type TlsVersion } from './defaults';
import { ConfigError } from './errors';
import { parseHostPort, type HostPort } from './host-port';
import { parseCidrList } from '../policy/cidr';

/** Validated configuration of `serve`, built once at startup and passed explicitly. */
export interface ServeConfig {
  listen: HostPort;
  backend: HostPort;
  backendLocalAddress?: string;
  cert: string;
  key: string;
  caFile: string;
  /** True when --cert/--key are the defaults: then missing files are generated on first run. */
  generateIfMissing: boolean;
  tlsMinVersion: TlsVersion;
  tlsMaxVersion: TlsVersion;
  ciphers: string;
  ecdhCurves: string;
  allow: string[];
  allowFile?: string;
  requireSecureTransport: boolean;
  clientCa?: string;
  tlsSessionTimeoutS: number;
  tlsTicketKeyRotationS: number;
  proxyProtocolFrom: string[];
  proxyProtocolWaitMs: number;
  backendProxyProtocol: 'off' | 'v2';
  backendTls: 'off' | 'on' | 'verify';
  backendCa?: string;
  backendServerName?: string;
  /** Add _client_ip/_client_port/_client_tls_* connection attributes to logins. */
  clientAttrs: boolean;
  status?: HostPort;
  maxConnections: number;
  handshakeTimeoutMs: number;
  backendConnectTimeoutMs: number;
  backendProbeIntervalMs: number;
  backendProbeFailures: number;
  drainTimeoutMs: number;
  /** Processes sharing the listener (already resolved: 0 became the number of cores). */
  workers: number;
  logLevel: LogLevel;
}

/** The raw values as yargs hands them over (flags > MTP_* env > config file > defaults). */
export interface RawServeOptions {
  listen?: unknown;
  backend?: unknown;
  backendLocalAddress?: unknown;
  cert?: unknown;
  key?: unknown;
  caFile?: unknown;
  tlsMinVersion?: unknown;
  tlsMaxVersion?: unknown;
  ciphers?: unknown;
  ecdhCurves?: unknown;
  allow?: unknown;
  allowFile?: unknown;
  requireSecureTransport?: unknown;
  clientCa?: unknown;
  tlsSessionTimeout?: unknown;
  tlsTicketKeyRotation?: unknown;
  proxyProtocolFrom?: unknown;
  proxyProtocolWait?: unknown;
  backendProxyProtocol?: unknown;
  backendTls?: unknown;
  backendCa?: unknown;
  backendServerName?: unknown;
  clientAttrs?: unknown;
  status?: unknown;
  maxConnections?: unknown;
  handshakeTimeout?: unknown;
  backendConnectTimeout?: unknown;
  backendProbeInterval?: unknown;
  backendProbeFailures?: unknown;
  drainTimeout?: unknown;
  workers?: unknown;
  logLevel?: unknown;
}

export function validateServeConfig(raw: RawServeOptions): ServeConfig {
  const d = SERVE_DEFAULTS;
  const cert = str(raw.cert, d.cert, '--cert');
  const key = str(raw.key, d.key, '--key');
  const tlsMinVersion = tlsVersion(raw.tlsMinVersion, d.tlsMinVersion, '--tls-min-version');
  const tlsMaxVersion = tlsVersion(raw.tlsMaxVersion, d.tlsMaxVersion, '--tls-max-version');
  if (TLS_VERSIONS.indexOf(tlsMinVersion) > TLS_VERSIONS.indexOf(tlsMaxVersion)) {
    throw new ConfigError(`--tls-min-version ${tlsMinVersion} is above --tls-max-version ${tlsMaxVersion}`);
  }
  const ciphers = str(raw.ciphers, d.ciphers, '--ciphers');
  const ecdhCurves = str(raw.ecdhCurves, d.ecdhCurves, '--ecdh-curves');
  checkTlsSettings(ciphers, ecdhCurves);
  const allow = list(raw.allow, d.allow);
  parseCidrList(allow, '--allow');
  const allowFile = optionalStr(raw.allowFile, '--allow-file');
  const proxyProtocolFrom = list(raw.proxyProtocolFrom, d.proxyProtocolFrom);
  parseCidrList(proxyProtocolFrom, '--proxy-protocol-from');
  const backendProxyProtocol = str(
    raw.backendProxyProtocol,
    d.backendProxyProtocol,
    '--backend-proxy-protocol',
  );
  if (backendProxyProtocol !== 'off' && backendProxyProtocol !== 'v2') {
    throw new ConfigError(`--backend-proxy-protocol must be off or v2, got '${backendProxyProtocol}'`);
  }
  const backendTls = str(raw.backendTls, d.backendTls, '--backend-tls');
  if (backendTls !== 'off' && backendTls !== 'on' && backendTls !== 'verify') {
    throw new ConfigError(`--backend-tls must be off, on or verify, got '${backendTls}'`);
  }
  const statusText = str(raw.status, d.status, '--status');
  const backendLocalAddress = optionalStr(raw.backendLocalAddress, '--backend-local-address');
  if (backendLocalAddress !== undefined && net.isIP(backendLocalAddress) === 0) {
    throw new ConfigError(`--backend-local-address: '${backendLocalAddress}' is not an IP address`);
  }
  const logLevel = str(raw.logLevel, d.logLevel, '--log-level');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`);
  }
  return {
    listen: parseHostPort(str(raw.listen, d.listen, '--listen'), '--listen'),
    backend: parseHostPort(str(raw.backend, d.backend, '--backend'), '--backend'),
    backendLocalAddress,
    cert,
    key,
    caFile: str(raw.caFile, d.caFile, '--ca-file'),
    generateIfMissing: cert === d.cert && key === d.key,
    tlsMinVersion,
    tlsMaxVersion,
    ciphers,
    ecdhCurves,
    allow,
    allowFile,
    requireSecureTransport: bool(
      raw.requireSecureTransport,
      d.requireSecureTransport,
      '--require-secure-transport',
    ),
    clientCa: optionalStr(raw.clientCa, '--client-ca'),
    // RFC 8446 §4.6.1: ticket lifetimes of at most 7 days.
    tlsSessionTimeoutS: intRange(
      raw.tlsSessionTimeout,
      d.tlsSessionTimeout,
      '--tls-session-timeout',
      1,
      604_800,
    ),
    tlsTicketKeyRotationS: int(
      raw.tlsTicketKeyRotation,
      d.tlsTicketKeyRotation,
      '--tls-ticket-key-rotation',
      60,
    ),
    proxyProtocolFrom,
    proxyProtocolWaitMs: int(raw.proxyProtocolWait, d.proxyProtocolWait, '--proxy-protocol-wait', 0),
    backendProxyProtocol,
    backendTls,
    backendCa: optionalStr(raw.backendCa, '--backend-ca'),
    backendServerName: optionalStr(raw.backendServerName, '--backend-server-name'),
    clientAttrs: bool(raw.clientAttrs, d.clientAttrs, '--client-attrs'),
    status: statusText === 'off' ? undefined : parseHostPort(statusText, '--status'),
    maxConnections: int(raw.maxConnections, d.maxConnections, '--max-connections', 1),
    handshakeTimeoutMs: int(raw.handshakeTimeout, d.handshakeTimeout, '--handshake-timeout', 1),
    backendConnectTimeoutMs: int(
      raw.backendConnectTimeout,
      d.backendConnectTimeout,
      '--backend-connect-timeout',
      1,
    ),
    backendProbeIntervalMs: int(
      raw.backendProbeInterval,
      d.backendProbeInterval,
      '--backend-probe-interval',
      100,
    ),
    backendProbeFailures: int(
      raw.backendProbeFailures,
      d.backendProbeFailures,
      '--backend-probe-failures',
      1,
    ),
    drainTimeoutMs: int(raw.drainTimeout, d.drainTimeout, '--drain-timeout', 0),
    workers: resolveWorkers(int(raw.workers, d.workers, '--workers', 0)),
    logLevel: logLevel as LogLevel,
  };
}

function resolveWorkers(workers: number): number {
  return workers === 0 ? os.availableParallelism() : workers;
}

/** Fails at startup, not at the first client, when OpenSSL rejects the cipher list or curves. */
function checkTlsSettings(ciphers: string, ecdhCurves: string): void {
  try {
    tls.createSecureContext({ ciphers });
  } catch (error) {
    throw new ConfigError(`--ciphers: OpenSSL accepts none of '${ciphers}' (${(error as Error).message})`);
  }
  try {
    tls.createSecureContext({ ecdhCurve: ecdhCurves });
  } catch (error) {
    throw new ConfigError(
      `--ecdh-curves: '${ecdhCurves}' is not a valid curve list (${(error as Error).message})`,
    );
  }
}

function tlsVersion(value: unknown, fallback: TlsVersion, flag: string): TlsVersion {
  const text = str(value, fallback, flag);
  if ((TLS_VERSIONS as readonly string[]).includes(text)) return text as TlsVersion;
  if (/^(SSLv3|TLSv1(\.[01])?)$/.test(text)) {
    throw new ConfigError(
      `${flag} ${text} is refused: only TLSv1.2 and TLSv1.3 are offered (RFC 8996 deprecates older versions)`,
    );
  }
  throw new ConfigError(`${flag} must be TLSv1.2 or TLSv1.3, got '${text}'`);
}

function str(value: unknown, fallback: string, flag: string): string {
  if (Array.isArray(value)) value = value[value.length - 1]; // a repeated flag: the last one wins
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'string' && typeof value !== 'number')
    throw new ConfigError(`${flag} must be a string`);
  const text = String(value).trim();
  if (text === '') throw new ConfigError(`${flag} must not be empty`);
  return text;
}

function optionalStr(value: unknown, flag: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  return str(value, '', flag);
}

function bool(value: unknown, fallback: boolean, flag: string): boolean {
  if (Array.isArray(value)) value = value[value.length - 1];
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(`${flag} must be true or false, got '${String(value)}'`);
}

function int(value: unknown, fallback: number, flag: string, min: number): number {
  if (Array.isArray(value)) value = value[value.length - 1];
  if (value === undefined || value === null) return fallback;
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isInteger(n) || n < min)
    throw new ConfigError(`${flag} must be an integer >= ${min}, got '${String(value)}'`);
  return n;
}

function intRange(value: unknown, fallback: number, flag: string, min: number, max: number): number {
  const n = int(value, fallback, flag, min);
  if (n > max) throw new ConfigError(`${flag} must be an integer <= ${max}, got '${String(value)}'`);
  return n;
}

/** Repeatable flags: arrays from flags/config files, comma lists from the environment. */
function list(value: unknown, fallback: readonly string[]): string[] {
  if (value === undefined || value === null) return [...fallback];
  const items = (Array.isArray(value) ? value : [value]).flatMap((item) => String(item).split(','));
  return items.map((item) => item.trim()).filter((item) => item !== '');
}

export function fileExists(path: string): boolean {
  try {
    fs.accessSync(path);
    return true;
  } catch {
    return false;
  }
}
