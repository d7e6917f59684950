/**
 * The --workers primary owns what must exist once: first-run certificates, ticket key rotation
 * (one key set for all workers: a client resumes whichever worker it reaches), the status port
 * (metrics summed over workers, /clients merged), the backend probe, and the workers themselves.
 */
import type { ServeConfig } from '../config/serve-config';
import type { Logger } from '../observability/logger';
import { METRIC_PREFIX, ProxyMetrics } from '../observability/metrics';
import { computeReadiness } from '../observability/readiness';
import { TicketKeyRotation } from '../tls/ticket-keys';
import { component, startComponents } from './lifecycle';
import { plainTidbCheck } from './plain-tidb-check';
import { closeErrorLogger, stopper, type Running } from './running';
import { backendProbeFor, logListening, probeComponent, statusPart } from './status-components';
import { ensureCertificates, readCredentials, readPublicCa } from './tls-setup';
import { checkListenAddress } from './listen-check';
import { WorkerPool } from './worker-pool';
import type { AddressInfo } from 'node:net';

export async function runPrimary(config: ServeConfig, logger: Logger): Promise<Running> {
  await ensureCertificates(config, logger);
  readCredentials(config); // fail once, with exit 2, rather than in every worker
  await checkListenAddress(config.listen.address);
  const metrics = new ProxyMetrics(); // the primary's own: process metrics, backend_up
  const tickets = new TicketKeyRotation(config.tls.ticketKeyRotationS * 1000, (keys) =>
    pool.broadcastTicketKeys(keys),
  );
  const pool = new WorkerPool(config.listen.workers, logger, () => tickets.keys);
  const probe = backendProbeFor(config, metrics, logger);
  let draining = false;
  const status = statusPart(
    config.status.address,
    {
      metrics,
      // The primary adds only what it owns: its process metrics and the probe's backend_up.
      registry: async () =>
        pool.aggregate(
          (await metrics.registry.getMetricsAsJSON()).filter(
            (m) => !m.name.startsWith(METRIC_PREFIX) || m.name === `${METRIC_PREFIX}backend_up`,
          ),
        ),
      clients: (limit) => pool.clients(limit),
      readiness: () =>
        computeReadiness({
          listening: pool.listeningCount > 0,
          draining,
          credentialsLoaded: true,
          backend: { reachable: probe.health.reachable, detail: probe.health.lastResult?.detail },
        }),
      caPem: () => readPublicCa(config.tls.caFile),
    },
    logger,
  );
  let address: AddressInfo | undefined;
  const workers = component(
    'workers',
    async () => {
      try {
        address = await pool.start();
      } catch (error) {
        await pool.close(); // the workers that did start
        throw error;
      }
    },
    async () => {
      draining = true;
      await pool.close();
    },
  );
  const started = await startComponents(
    [
      component(
        'ticket key rotation',
        () => tickets.start(),
        () => tickets.stop(),
      ),
      status.component,
      plainTidbCheck(config, logger),
      ...(config.status.address ? [probeComponent(probe)] : []),
      workers,
    ],
    closeErrorLogger(logger),
  );
  logListening(logger, 'listening', config, {
    listen: address!,
    status: status.address(),
    workers: config.listen.workers,
  });
  return {
    reload: () => pool.signalAll('SIGHUP'),
    stop: stopper(logger, started, config.listen.drainTimeoutMs),
  };
}
