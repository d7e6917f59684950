/** What exists once per service: the status port and the backend readiness probe. */
import type { AddressInfo } from 'node:net';
import { ListenError } from '../core/errors';
import { formatBackendAddress } from '../config/backend-address';
import { formatHostPort, type HostPort } from '../config/host-port';
import type { ServeConfig } from '../config/serve-config';
import { BackendProbe } from '../net/backend-probe';
import type { Logger } from '../observability/logger';
import type { ProxyMetrics } from '../observability/metrics';
import { createStatusServer, listenStatusServer, type StatusSources } from '../observability/status-server';
import type { TlsPolicy, LoadedCredentials } from '../tls/credentials';
import { component, type Component } from './lifecycle';

/** The readiness probe of the database (a clean login attempt, never a bare connect). */
export function backendProbeFor(config: ServeConfig, metrics: ProxyMetrics, logger: Logger): BackendProbe {
  const { backend } = config;
  return new BackendProbe(
    {
      backend: backend.address,
      localAddress: backend.localAddress,
      proxyProtocol: backend.proxyProtocol,
      timeoutMs: backend.connectTimeoutMs,
      intervalMs: backend.probeIntervalMs,
      failureThreshold: backend.probeFailures,
    },
    { metrics, logger },
  );
}

export function probeComponent(probe: BackendProbe): Component {
  return component(
    'backend probe',
    () => probe.start(),
    () => probe.stop(),
  );
}

export interface StatusPart {
  component: Component;
  address(): AddressInfo | undefined;
}

/** The status port as a component; no component at all with --status off. */
export function statusPart(at: HostPort | undefined, sources: StatusSources, logger: Logger): StatusPart {
  let address: AddressInfo | undefined;
  const server = createStatusServer(sources, logger);
  const start = async (): Promise<void> => {
    if (!at) return;
    address = await listenStatusServer(server, at.host, at.port).catch((error: NodeJS.ErrnoException) => {
      throw new ListenError(
        `cannot listen on --status ${formatHostPort(at)}: ${error.code ?? error.message}`,
      );
    });
  };
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      if (!address) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return { component: component('status server', start, close), address: () => address };
}

/** The one "listening" line: `serve` and the primary announce the service, a worker itself. */
export function logListening(
  logger: Logger,
  event: 'listening' | 'worker_listening',
  config: ServeConfig,
  at: { listen: AddressInfo; status?: AddressInfo; workers?: number; credentials?: LoadedCredentials },
): void {
  const listen = formatHostPort({ host: at.listen.address, port: at.listen.port });
  const policy: Pick<TlsPolicy, 'minVersion' | 'maxVersion'> = config.tls;
  const credentials = at.credentials;
  logger.info(
    {
      event,
      listen,
      backend: formatBackendAddress(config.backend.address),
      status: at.status ? formatHostPort({ host: at.status.address, port: at.status.port }) : 'off',
      workers: at.workers,
      tls: { min: policy.minVersion, max: policy.maxVersion },
      certificate: credentials && {
        subject: credentials.subject,
        sans: credentials.sans,
        not_after: credentials.notAfter.toISOString(),
      },
      ca_file: credentials?.ca ? config.tls.caFile : undefined,
      allow: config.access.allow,
    },
    `mysql-tls-proxy listening on ${listen}` +
      (at.workers
        ? ` with ${at.workers} workers`
        : `, backend ${formatBackendAddress(config.backend.address)}`),
  );
}
