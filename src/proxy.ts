import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import type { ServeConfig } from './config/serve-config';
import { ConfigError } from './config/errors';
import { formatHostPort } from './config/host-port';
import { DEFAULT_HANDSHAKE_OPTIONS } from './handshake/machine';
import type { Logger } from './observability/logger';
import { ProxyMetrics } from './observability/metrics';
import { createStatusServer, listenStatusServer } from './observability/status-server';
import { Allowlist } from './policy/allowlist';
import { parseCidrList } from './policy/cidr';
import { ProxyServer } from './net/proxy-server';
import { TlsTerminator } from './net/tls-terminator';
import { loadCredentials, CredentialsError, type LoadedCredentials, type TlsPolicy } from './tls/credentials';
import { ensureDevCertificates } from './tls/first-run';

export interface RunningProxy {
  address: AddressInfo;
  statusAddress?: AddressInfo;
  metrics: ProxyMetrics;
  credentials(): LoadedCredentials;
  /** Re-reads certificate and key; a broken file keeps the previous ones. */
  reload(): Promise<void>;
  /** Stops accepting, drains, closes the status port. */
  stop(): Promise<{ remaining: number }>;
}

/**
 * Composition root: builds every part from the validated config and wires them together.
 * Throws ConfigError for problems the user must fix (exit 2).
 */
export async function startProxy(config: ServeConfig, logger: Logger): Promise<RunningProxy> {
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
  metrics.certificateExpiry.set(credentials.notAfter.getTime() / 1000);
  reportExpiry(credentials, logger);
  const tls = new TlsTerminator(credentials, policy, config.handshakeTimeoutMs);
  const allowlist = new Allowlist(parseCidrList(config.allow, '--allow'));
  const server = new ProxyServer(
    {
      listen: config.listen,
      maxConnections: config.maxConnections,
      session: {
        backend: config.backend,
        backendLocalAddress: config.backendLocalAddress,
        handshakeTimeoutMs: config.handshakeTimeoutMs,
        backendConnectTimeoutMs: config.backendConnectTimeoutMs,
        handshake: { ...DEFAULT_HANDSHAKE_OPTIONS, requireSecureTransport: config.requireSecureTransport },
      },
    },
    { logger, metrics, tls, allowlist },
  );

  const address = await server.listen().catch((error: NodeJS.ErrnoException) => {
    throw new ListenError(
      `cannot listen on ${formatHostPort(config.listen)}: ${error.code ?? error.message}`,
    );
  });
  let status: http.Server | undefined;
  let statusAddress: AddressInfo | undefined;
  if (config.status) {
    status = createStatusServer(
      {
        metrics,
        readiness: () => ({
          ready: !server.isDraining,
          reasons: server.isDraining ? ['draining'] : [],
        }),
        caPem: () => credentials.ca,
      },
      logger,
    );
    const statusConfig = config.status;
    statusAddress = await listenStatusServer(status, statusConfig.host, statusConfig.port).catch(
      (error: NodeJS.ErrnoException) => {
        throw new ListenError(
          `cannot listen on --status ${formatHostPort(statusConfig)}: ${error.code ?? error.message}`,
        );
      },
    );
  }
  logger.info(
    {
      event: 'listening',
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

  return {
    address,
    statusAddress,
    metrics,
    credentials: () => credentials,
    async reload() {
      try {
        const next = loadCredentials(paths, policy);
        tls.update(next);
        credentials = next;
        metrics.certificateExpiry.set(next.notAfter.getTime() / 1000);
        metrics.certificateReloads.inc({ result: 'ok' });
        logger.info(
          {
            event: 'certificate_reloaded',
            serial: next.serialNumber,
            not_after: next.notAfter.toISOString(),
          },
          'certificate reloaded',
        );
        reportExpiry(next, logger);
      } catch (error) {
        metrics.certificateReloads.inc({ result: 'error' });
        logger.error(
          { event: 'certificate_reload_failed', error: (error as Error).message },
          'certificate reload failed; still serving the previous certificate',
        );
      }
    },
    async stop() {
      const result = await server.drain(config.drainTimeoutMs);
      await new Promise<void>((resolve) => (status ? status.close(() => resolve()) : resolve()));
      status?.closeAllConnections();
      return result;
    },
  };
}

export class ListenError extends Error {
  readonly code = 'MTP_LISTEN';
}

const DAY_MS = 86_400_000;

function reportExpiry(credentials: LoadedCredentials, logger: Logger): void {
  const left = credentials.notAfter.getTime() - Date.now();
  const fields = {
    event: 'certificate_expiry',
    not_after: credentials.notAfter.toISOString(),
    days_left: Math.floor(left / DAY_MS),
  };
  if (left <= 0)
    logger.error(fields, 'the server certificate has EXPIRED: clients that verify it will refuse to connect');
  else if (left < 14 * DAY_MS)
    logger.warn(fields, `the server certificate expires in ${Math.ceil(left / DAY_MS)} days`);
}

export function readOptionalFile(path: string): Buffer | undefined {
  try {
    return fs.readFileSync(path);
  } catch {
    return undefined;
  }
}
