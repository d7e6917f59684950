import cluster, { type Worker } from 'node:cluster';
import fs from 'node:fs';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { ServeConfig } from './config/serve-config';
import { ConfigError } from './config/errors';
import { formatHostPort } from './config/host-port';
import type { Logger } from './observability/logger';
import { METRIC_PREFIX, ProxyMetrics } from './observability/metrics';
import { computeReadiness } from './observability/readiness';
import { createStatusServer } from './observability/status-server';
import { backendProbeFor, openStatusPort, type RunningProxy } from './proxy';
import { loadCredentials, CredentialsError } from './tls/credentials';
import { ensureDevCertificates } from './tls/first-run';
import { TicketKeyRotation } from './tls/ticket-keys';

/**
 * --workers N: N processes accept on one listening socket (the kernel spreads connections,
 * SCHED_NONE: no hop through the primary per connection). The primary owns what must exist once:
 * first-run certificates, the status port (metrics summed over workers), the backend probe, and
 * signals, which it forwards. Workers run the ordinary proxy with the status port off.
 */
/** One process's metrics as prom-client serialises them for aggregation. */
type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;
type WorkerMessage =
  { type: 'mtp:listening'; address: AddressInfo } | { type: 'mtp:metrics'; id: number; metrics: MetricsJson };
/** Session ticket keys, base64 (IPC messages are JSON). */
type TicketKeysMessage = { type: 'mtp:ticket-keys'; keys: string };

/** A worker that is going away misses the keys; the callback keeps a closed channel from throwing. */
function sendTicketKeys(worker: Worker, keys: Buffer): void {
  if (!worker.isConnected()) return;
  const message: TicketKeysMessage = { type: 'mtp:ticket-keys', keys: keys.toString('base64') };
  worker.send(message, undefined, () => undefined);
}

export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/** In a worker: report listening, answer the primary's metrics requests. */
export function serveAsWorker(running: RunningProxy): void {
  process.on('message', (message: { type?: string; id?: number; keys?: string }) => {
    if (message?.type === 'mtp:ticket-keys' && typeof message.keys === 'string') {
      running.setTicketKeys(Buffer.from(message.keys, 'base64'));
      return;
    }
    if (message?.type !== 'mtp:metrics-request') return;
    void running.metrics.registry.getMetricsAsJSON().then((metrics) => {
      process.send?.({ type: 'mtp:metrics', id: message.id as number, metrics } satisfies WorkerMessage);
    });
  });
  // After the listener above: the primary answers 'listening' with the shared ticket keys.
  process.send?.({ type: 'mtp:listening', address: running.address } satisfies WorkerMessage);
}

export async function runPrimary(config: ServeConfig, workerCount: number, logger: Logger): Promise<void> {
  if (config.generateIfMissing && (await ensureDevCertificates(config))) {
    logger.info(
      { event: 'certificates_generated', ca: config.caFile, cert: config.cert, key: config.key },
      'generated a development CA and server certificate',
    );
  }
  try {
    // Fail once, with exit 2, rather than in every worker.
    loadCredentials(
      { cert: config.cert, key: config.key, caFile: config.caFile },
      {
        minVersion: config.tlsMinVersion,
        maxVersion: config.tlsMaxVersion,
        ciphers: config.ciphers,
        ecdhCurves: config.ecdhCurves,
      },
    );
  } catch (error) {
    if (error instanceof CredentialsError) throw new ConfigError(error.message);
    throw error;
  }
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ exec: process.argv[1], args: process.argv.slice(2), silent: false });

  const metrics = new ProxyMetrics(); // the primary's own: process metrics, backend_up
  const listening = new Map<number, AddressInfo>();
  const pending = new Map<
    number,
    { left: number; parts: MetricsJson[]; done: (parts: MetricsJson[]) => void }
  >();
  let nextRequest = 1;
  let stopping = false;
  let firstListening: (address: AddressInfo) => void = () => undefined;
  const ready = new Promise<AddressInfo>((resolve) => (firstListening = resolve));

  // One set of session ticket keys for all workers: a client resumes whichever worker it reaches.
  const ticketKeys = new TicketKeyRotation(config.tlsTicketKeyRotationS * 1000, (keys) => {
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker && listening.has(worker.id)) sendTicketKeys(worker, keys);
    }
  });
  ticketKeys.start();

  const fork = (): Worker => {
    const worker = cluster.fork({ MTP_WORKER: '1' });
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'mtp:listening') {
        sendTicketKeys(worker, ticketKeys.keys);
        listening.set(worker.id, message.address);
        firstListening(message.address);
      } else if (message.type === 'mtp:metrics') {
        const request = pending.get(message.id);
        if (!request) return;
        request.parts.push(message.metrics);
        if (--request.left === 0) {
          pending.delete(message.id);
          request.done(request.parts);
        }
      }
    });
    return worker;
  };
  cluster.on('exit', (worker, code, signal) => {
    listening.delete(worker.id);
    if (stopping) return;
    logger.error(
      { event: 'worker_exited', worker: worker.id, code, signal },
      'a worker exited; starting a new one',
    );
    fork();
  });
  for (let i = 0; i < workerCount; i++) fork();
  const address = await ready;

  /** Every worker's metrics plus the primary's, summed (gauges per their aggregator). */
  const aggregate = async (): Promise<Registry> => {
    const workers = Object.values(cluster.workers ?? {}).filter(
      (w): w is Worker => !!w && listening.has(w.id),
    );
    const parts = await new Promise<MetricsJson[]>((resolve) => {
      if (workers.length === 0) return resolve([]);
      const id = nextRequest++;
      pending.set(id, { left: workers.length, parts: [], done: resolve });
      setTimeout(() => {
        const request = pending.get(id);
        if (request) {
          pending.delete(id);
          resolve(request.parts); // a worker too busy to answer is left out of this scrape
        }
      }, 2_000).unref();
      for (const worker of workers) {
        if (worker.isConnected())
          worker.send({ type: 'mtp:metrics-request', id }, undefined, () => undefined);
      }
    });
    // The primary adds only what it owns: its process metrics and the probe's backend_up.
    const own = (await metrics.registry.getMetricsAsJSON()).filter(
      (m) => !m.name.startsWith(METRIC_PREFIX) || m.name === `${METRIC_PREFIX}backend_up`,
    );
    return AggregatorRegistry.aggregate([...parts, own]);
  };

  let status: http.Server | undefined;
  let statusAddress: AddressInfo | undefined;
  const probe = backendProbeFor(config, metrics, logger);
  if (config.status) {
    probe.start();
    status = createStatusServer(
      {
        metrics,
        registry: aggregate,
        readiness: () =>
          computeReadiness({
            listening: listening.size > 0,
            draining: stopping,
            credentialsLoaded: true,
            backend: { reachable: probe.health.reachable, detail: probe.health.lastResult?.detail },
          }),
        caPem: () => readIfExists(config.caFile),
      },
      logger,
    );
    statusAddress = await openStatusPort(status, config.status);
  }
  logger.info(
    {
      event: 'listening',
      listen: formatHostPort({ host: address.address, port: address.port }),
      backend: formatHostPort(config.backend),
      status: statusAddress
        ? formatHostPort({ host: statusAddress.address, port: statusAddress.port })
        : 'off',
      workers: workerCount,
      allow: config.allow,
    },
    `mysql-tls-proxy listening on ${formatHostPort({ host: address.address, port: address.port })} with ${workerCount} workers`,
  );

  process.on('SIGHUP', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGHUP');
  });
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    ticketKeys.stop();
    logger.info(
      { event: 'draining', signal, drain_timeout_ms: config.drainTimeoutMs },
      `${signal}: draining all workers`,
    );
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
    let left = workers.length;
    const finish = (): void => {
      void probe.stop();
      status?.closeAllConnections();
      status?.close();
      logger.info({ event: 'stopped' }, 'stopped');
      logger.flush();
      setImmediate(() => process.exit(0));
    };
    if (left === 0) return finish();
    for (const worker of workers) {
      worker.once('exit', () => --left === 0 && finish());
      worker.process.kill('SIGTERM');
    }
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function readIfExists(path: string): Buffer | undefined {
  try {
    return fs.readFileSync(path);
  } catch {
    return undefined;
  }
}
