/** `serve` as one process: every component in this process. */
import { announceConnectInfo } from '../tls/announce';
import type { ServeConfig } from '../config/serve-config';
import type { Logger } from '../observability/logger';
import { ProxyMetrics } from '../observability/metrics';
import { computeReadiness } from '../observability/readiness';
import { TicketKeyRotation } from '../tls/ticket-keys';
import { component, startComponents } from './lifecycle';
import { plainTidbCheck } from './plain-tidb-check';
import { proxyPart } from './proxy-components';
import { closeErrorLogger, stopper, type Running } from './running';
import { backendProbeFor, logListening, probeComponent, statusPart } from './status-components';
import { ensureCertificates, readCredentials } from './tls-setup';

export async function runSingle(config: ServeConfig, logger: Logger): Promise<Running> {
  await ensureCertificates(config, logger);
  const metrics = new ProxyMetrics();
  const proxy = proxyPart(config, readCredentials(config), { logger, metrics });
  const probe = backendProbeFor(config, metrics, logger);
  const status = statusPart(
    config.status.address,
    {
      metrics,
      readiness: () =>
        computeReadiness({
          listening: proxy.address() !== undefined,
          draining: proxy.server.isDraining,
          credentialsLoaded: true,
          backend: { reachable: probe.health.reachable, detail: probe.health.lastResult?.detail },
        }),
      caPem: () => proxy.credentials().ca,
    },
    logger,
  );
  const tickets = new TicketKeyRotation(config.tls.ticketKeyRotationS * 1000, (keys) =>
    proxy.tls.setTicketKeys(keys),
  );
  const started = await startComponents(
    [
      status.component,
      plainTidbCheck(config, logger),
      ...(config.status.address ? [probeComponent(probe)] : []),
      ...proxy.components,
      component(
        'ticket key rotation',
        () => tickets.start(),
        () => tickets.stop(),
      ),
    ],
    closeErrorLogger(logger),
  );
  const address = proxy.address()!;
  logListening(logger, 'listening', config, {
    listen: address,
    status: status.address(),
    credentials: proxy.credentials(),
  });
  announceConnectInfo(
    {
      listenHost: config.listen.address.host,
      port: address.port,
      certPem: proxy.credentials().cert,
      caFile: proxy.credentials().ca ? config.tls.caFile : undefined,
    },
    logger,
  );
  return {
    reload() {
      logger.info({ event: 'sighup' }, 'SIGHUP: reloading certificate and key');
      void proxy.reloadCertificates('sighup');
      proxy.reloadAccessList();
    },
    stop: stopper(logger, started, config.listen.drainTimeoutMs, proxy.closedAtDeadline),
  };
}
