import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import type { ServeConfig } from './config/serve-config';
import { ConfigError } from './config/errors';
import { formatHostPort, type HostPort } from './config/host-port';
import { DEFAULT_HANDSHAKE_OPTIONS } from './handshake/machine';
import type { Logger } from './observability/logger';
import { ProxyMetrics } from './observability/metrics';
import { computeReadiness } from './observability/readiness';
import { createStatusServer, listenStatusServer } from './observability/status-server';
import { BackendProbe } from './net/backend-probe';
import { AccessPolicy } from './policy/access-policy';
import { AllowFileError } from './policy/allow-file';
import { startAllowFileReloader } from './policy/allow-file-reloader';
import { ProxyServer } from './net/proxy-server';
import { TlsTerminator } from './net/tls-terminator';
import { loadCredentials, CredentialsError, type LoadedCredentials, type TlsPolicy } from './tls/credentials';
import { ensureDevCertificates } from './tls/first-run';
import { CertificateReloader, type ReloadTrigger } from './tls/reloader';
import { TicketKeyRotation } from './tls/ticket-keys';

export interface RunningProxy {
  address: AddressInfo;
  statusAddress?: AddressInfo;
  metrics: ProxyMetrics;
  credentials(): LoadedCredentials;
  /**
   * Re-reads certificate, key and CA (also done on its own when the files change); a broken file
   * keeps the previous ones. Serialized: concurrent calls never overlap.
   */
  reload(trigger?: ReloadTrigger): Promise<void>;
  /** Re-reads --allow-file; a broken file keeps the current list. */
  reloadAccessList(): void;
  /** --workers: the primary hands every worker the same session ticket keys. */
  setTicketKeys(keys: Buffer): void;
  /** Stops accepting, drains, closes the status port. */
  stop(): Promise<{ remaining: number }>;
}

/**
 * Composition root: builds every part from the validated config and wires them together.
 * Throws ConfigError for problems the user must fix (exit 2).
 */
export async function startProxy(
  config: ServeConfig,
  logger: Logger,
  options: { worker?: boolean } = {},
): Promise<RunningProxy> {
  if (config.generateIfMissing) {
    const generated = await ensureDevCertificates(config);
    if (generated) {
      logger.info(
        { event: 'certificates_generated', ca: config.caFile, cert: config.cert, key: config.key },
        `generated a development CA and server certificate (clients should trust ${config.caFile})`,
      );
    }
  }
  const policy: TlsPolicy = {
    minVersion: config.tlsMinVersion,
    maxVersion: config.tlsMaxVersion,
    ciphers: config.ciphers,
    ecdhCurves: config.ecdhCurves,
  };
  const paths = { cert: config.cert, key: config.key, caFile: config.caFile };
  let credentials: LoadedCredentials;
  try {
    credentials = loadCredentials(paths, policy);
  } catch (error) {
    if (error instanceof CredentialsError) throw new ConfigError(error.message);
    throw error;
  }
  const metrics = new ProxyMetrics();
  const tls = new TlsTerminator(
    credentials,
    policy,
    config.handshakeTimeoutMs,
    config.tlsSessionTimeoutS,
    readClientCa(config.clientCa),
  );
  // Session tickets: one process rotates its own keys; --workers get theirs from the primary.
  const ticketKeys = options.worker
    ? undefined
    : new TicketKeyRotation(config.tlsTicketKeyRotationS * 1000, (keys) => tls.setTicketKeys(keys));
  ticketKeys?.start();
  // Hot reload: SIGHUP, file changes, daily expiry check (src/tls/reloader.ts).
  const certificates = new CertificateReloader(
    {
      paths,
      policy,
      logger,
      metrics,
      apply(next) {
        tls.update(next);
        credentials = next; // what /ca.pem and credentials() return
      },
    },
    credentials,
  );
  const access = createAccessPolicy(config);
  const server = new ProxyServer(
    {
      listen: config.listen,
      maxConnections: config.maxConnections,
      session: {
        backend: config.backend,
        backendLocalAddress: config.backendLocalAddress,
        handshakeTimeoutMs: config.handshakeTimeoutMs,
        backendConnectTimeoutMs: config.backendConnectTimeoutMs,
        handshake: {
          ...DEFAULT_HANDSHAKE_OPTIONS,
          requireSecureTransport: config.requireSecureTransport,
          requireClientCertificate: config.clientCa !== undefined,
          backendTls: config.backendTls !== 'off',
          clientAttributes: config.clientAttrs,
        },
        backendTls: {
          mode: config.backendTls,
          ca: config.backendCa ? readConfigFile(config.backendCa, '--backend-ca') : undefined,
          serverName: config.backendServerName,
        },
        backendProxyProtocol: config.backendProxyProtocol,
        proxyProtocolWaitMs: config.proxyProtocolWaitMs,
      },
    },
    { logger, metrics, tls, policy: access },
  );

  const address = await server.listen().catch((error: NodeJS.ErrnoException) => {
    throw new ListenError(
      `cannot listen on ${formatHostPort(config.listen)}: ${error.code ?? error.message}`,
    );
  });
  let status: http.Server | undefined;
  let statusAddress: AddressInfo | undefined;
  let probe: BackendProbe | undefined;
  if (config.status) {
    probe = backendProbeFor(config, metrics, logger);
    probe.start();
    const backendProbe = probe;
    status = createStatusServer(
      {
        metrics,
        readiness: () => {
          const backend = backendProbe.health;
          return computeReadiness({
            listening: true, // the status port opens only once the client listener is up
            draining: server.isDraining,
            credentialsLoaded: credentials !== undefined,
            backend: { reachable: backend.reachable, detail: backend.lastResult?.detail },
          });
        },
        caPem: () => credentials.ca,
      },
      logger,
    );
    statusAddress = await openStatusPort(status, config.status);
  }
  logger.info(
    {
      // --workers: the primary announces the service; each worker only reports itself.
      event: options.worker ? 'worker_listening' : 'listening',
      listen: formatHostPort({ host: address.address, port: address.port }),
      backend: formatHostPort(config.backend),
      status: statusAddress
        ? formatHostPort({ host: statusAddress.address, port: statusAddress.port })
        : 'off',
      tls: { min: config.tlsMinVersion, max: config.tlsMaxVersion },
      certificate: {
        subject: credentials.subject,
        sans: credentials.sans,
        not_after: credentials.notAfter.toISOString(),
      },
      ca_file: credentials.ca ? config.caFile : undefined,
      allow: config.allow,
    },
    `mysql-tls-proxy listening on ${formatHostPort({ host: address.address, port: address.port })}, backend ${formatHostPort(config.backend)}`,
  );
  certificates.start(); // after listening: nothing to tear down if startup fails
  const accessList = startAllowFileReloader(access, logger);

  return {
    address,
    statusAddress,
    metrics,
    credentials: () => credentials,
    async reload(trigger: ReloadTrigger = 'api') {
      await certificates.reload(trigger);
    },
    reloadAccessList() {
      accessList.reload('sighup');
    },
    setTicketKeys(keys: Buffer) {
      tls.setTicketKeys(keys);
    },
    async stop() {
      ticketKeys?.stop();
      certificates.close();
      accessList.close();
      const result = await server.drain(config.drainTimeoutMs);
      await probe?.stop();
      await new Promise<void>((resolve) => (status ? status.close(() => resolve()) : resolve()));
      status?.closeAllConnections();
      return result;
    },
  };
}

function readClientCa(path: string | undefined): Buffer | undefined {
  return path ? readConfigFile(path, '--client-ca') : undefined;
}

function readConfigFile(path: string, flag: string): Buffer {
  try {
    return fs.readFileSync(path);
  } catch (error) {
    throw new ConfigError(
      `cannot read ${flag} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

function createAccessPolicy(config: ServeConfig): AccessPolicy {
  try {
    return new AccessPolicy({
      allow: config.allow,
      allowFile: config.allowFile,
      proxyProtocolFrom: config.proxyProtocolFrom,
    });
  } catch (error) {
    if (error instanceof AllowFileError) throw new ConfigError(error.message);
    throw error;
  }
}

/** The readiness probe of the database, as configured (a clean login attempt, never a bare connect). */
export function backendProbeFor(config: ServeConfig, metrics: ProxyMetrics, logger: Logger): BackendProbe {
  return new BackendProbe(
    {
      backend: config.backend,
      localAddress: config.backendLocalAddress,
      proxyProtocol: config.backendProxyProtocol,
      timeoutMs: config.backendConnectTimeoutMs,
      intervalMs: config.backendProbeIntervalMs,
      failureThreshold: config.backendProbeFailures,
    },
    { metrics, logger },
  );
}

export function openStatusPort(server: http.Server, at: HostPort): Promise<AddressInfo> {
  return listenStatusServer(server, at.host, at.port).catch((error: NodeJS.ErrnoException) => {
    throw new ListenError(`cannot listen on --status ${formatHostPort(at)}: ${error.code ?? error.message}`);
  });
}

export class ListenError extends Error {
  readonly code = 'MTP_LISTEN';
}

export function readOptionalFile(path: string): Buffer | undefined {
  try {
    return fs.readFileSync(path);
  } catch {
    return undefined;
  }
}
