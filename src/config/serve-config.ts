import fs from 'node:fs';
import tls from 'node:tls';
import { ConfigError } from '../core/errors';
import {
  TLS_VERSIONS,
  type BackendTlsMode,
  type ConnectionLogMode,
  type LogFormat,
  type LogLevel,
  type TlsVersion,
} from '../core/values';
import { isUnixSocket, type BackendAddress } from './backend-address';
import { camelName, SERVE_DEFAULTS, SERVE_FLAGS, type FlagSpec } from './flags';
import type { HostPort } from './host-port';

/** Validated configuration of `serve`, built once at startup from the flag table and passed explicitly. */
export interface ServeConfig {
  listen: {
    address: HostPort;
    maxConnections: number;
    handshakeTimeoutMs: number;
    drainTimeoutMs: number;
    /** Processes sharing the listener (already resolved: 0 became the number of cores). */
    workers: number;
  };
  backend: {
    address: BackendAddress;
    localAddress?: string;
    connectTimeoutMs: number;
    proxyProtocol: 'off' | 'v2';
    tls: BackendTlsMode;
    ca?: string;
    serverName?: string;
    /** Add _client_ip/_client_port/_client_tls_* connection attributes to logins. */
    clientAttrs: boolean;
    probeIntervalMs: number;
    probeFailures: number;
  };
  tls: {
    cert: string;
    key: string;
    caFile: string;
    /** True when --cert/--key are the defaults: then missing files are generated on first run. */
    generateIfMissing: boolean;
    minVersion: TlsVersion;
    maxVersion: TlsVersion;
    ciphers: string;
    ecdhCurves: string;
    sessionTimeoutS: number;
    ticketKeyRotationS: number;
    clientCa?: string;
    /** Seconds between content checks of the files (0: none). */
    reloadIntervalS: number;
    /** Reload on file-system events too. */
    watch: boolean;
  };
  access: {
    allow: string[];
    allowFile?: string;
    /** Seconds between content checks of --allow-file (0: none). */
    allowFileReloadIntervalS: number;
    /** true: refuse plaintext logins; 'warn': relay, log and count them. */
    requireSecureTransport: boolean | 'warn';
    proxyProtocolFrom: string[];
    proxyProtocolWaitMs: number;
  };
  status: { address?: HostPort };
  log: { level: LogLevel; format: LogFormat; connections: ConnectionLogMode };
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const [group, key] = path.split('.');
  const section = (target[group] ??= {}) as Record<string, unknown>;
  section[key] = value;
}

/**
 * Builds the nested config from each serve flag's merged value (by flag name; a missing one
 * takes the table's default). Throws a ConfigError naming the first bad flag.
 */
export function buildServeConfig(values: Readonly<Record<string, unknown>>): ServeConfig {
  const config: Record<string, unknown> = {};
  for (const flag of SERVE_FLAGS as readonly FlagSpec[]) {
    if (!flag.path || !flag.parse) continue;
    const value = values[flag.name] === undefined ? flag.default : values[flag.name];
    setPath(config, flag.path, flag.parse(value, `--${flag.name}`));
  }
  const serve = config as unknown as ServeConfig;
  const { minVersion, maxVersion } = serve.tls;
  if (TLS_VERSIONS.indexOf(minVersion) > TLS_VERSIONS.indexOf(maxVersion)) {
    throw new ConfigError(`--tls-min-version ${minVersion} is above --tls-max-version ${maxVersion}`);
  }
  checkTlsSettings(serve.tls.ciphers, serve.tls.ecdhCurves);
  checkUnixBackend(serve.backend);
  serve.tls.generateIfMissing =
    serve.tls.cert === SERVE_DEFAULTS.cert && serve.tls.key === SERVE_DEFAULTS.key;
  return serve;
}

/** The same from camelCase or kebab-case keys (programmatic use and tests). */
export function validateServeConfig(raw: Readonly<Record<string, unknown>>): ServeConfig {
  const values: Record<string, unknown> = {};
  for (const flag of SERVE_FLAGS as readonly FlagSpec[]) {
    values[flag.name] = raw[flag.name] ?? raw[camelName(flag.name)];
  }
  return buildServeConfig(values);
}

/**
 * A local socket has no network to protect and no host name to verify: TLS over it is refused
 * rather than silently ignored, and so is a TCP source address.
 */
function checkUnixBackend(backend: ServeConfig['backend']): void {
  if (!isUnixSocket(backend.address)) return;
  const where = `--backend unix:${backend.address.socketPath}`;
  if (backend.tls !== 'off') {
    throw new ConfigError(
      `--backend-tls ${backend.tls} cannot be used with ${where}: a local socket never leaves the host; use --backend-tls off or a HOST:PORT backend`,
    );
  }
  if (backend.localAddress !== undefined) {
    throw new ConfigError(
      `--backend-local-address cannot be used with ${where} (it is a TCP source address)`,
    );
  }
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

export function fileExists(path: string): boolean {
  try {
    fs.accessSync(path);
    return true;
  } catch {
    return false;
  }
}
