/**
 * A --workers process: the listener and the reloaders. What must exist once (certificates on
 * first run, the status port, the probe, ticket key rotation) belongs to the primary.
 */
import type { ServeConfig } from '../config/serve-config';
import type { Logger } from '../observability/logger';
import { ProxyMetrics } from '../observability/metrics';
import type { ProxyPart } from './proxy-components';
import { component, startComponents, type Component } from './lifecycle';
import type { PrimaryMessage, WorkerMessage } from './ipc';
import { proxyPart } from './proxy-components';
import { closeErrorLogger, stopper, type Running } from './running';
import { logListening } from './status-components';
import { readCredentials } from './tls-setup';

export function sendToPrimary(message: WorkerMessage, done: () => void = () => undefined): void {
  if (!process.send) return done();
  process.send(message, undefined, {}, () => done());
}

/** Answers the primary: ticket keys in, metrics and /clients reports out; reports listening once started. */
function primaryChannel(proxy: ProxyPart, metrics: ProxyMetrics): Component {
  const onMessage = (message: PrimaryMessage): void => {
    if (message?.type === 'mtp:ticket-keys' && typeof message.keys === 'string') {
      proxy.tls.setTicketKeys(Buffer.from(message.keys, 'base64'));
    } else if (message?.type === 'mtp:clients-request') {
      const report = metrics.clients.report(Date.now(), message.limit);
      sendToPrimary({ type: 'mtp:clients', id: message.id, report });
    } else if (message?.type === 'mtp:metrics-request') {
      void metrics.registry.getMetricsAsJSON().then((json) => {
        sendToPrimary({ type: 'mtp:metrics', id: message.id, metrics: json });
      });
    }
  };
  return component(
    'primary channel',
    () => {
      process.on('message', onMessage);
      // After the listener above: the primary answers 'listening' with the shared ticket keys.
      sendToPrimary({ type: 'mtp:listening', address: proxy.address()! });
    },
    () => void process.off('message', onMessage),
  );
}

export async function runWorker(config: ServeConfig, logger: Logger): Promise<Running> {
  const metrics = new ProxyMetrics();
  const proxy = proxyPart(config, readCredentials(config), { logger, metrics });
  const started = await startComponents(
    [...proxy.components, primaryChannel(proxy, metrics)],
    closeErrorLogger(logger),
  );
  logListening(logger, 'worker_listening', config, {
    listen: proxy.address()!,
    credentials: proxy.credentials(),
  });
  return {
    reload() {
      logger.info({ event: 'sighup' }, 'SIGHUP: reloading certificate and key');
      void proxy.reloadCertificates('sighup');
      proxy.reloadAccessList();
    },
    stop: stopper(logger, started, config.listen.drainTimeoutMs, proxy.closedAtDeadline),
  };
}
