/**
 * --workers N: N processes accept on one listening socket (the kernel spreads connections,
 * SCHED_NONE: no hop through the primary per connection). The pool forks them, waits until every
 * one listens (or reports why it cannot), re-forks one that dies later with a backoff, sums
 * their metrics, merges their /clients reports, and drains them all on close.
 */
import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { ConfigError, ListenError } from '../core/errors';
import type { Logger } from '../observability/logger';
import { mergeClientReports, type ClientReport } from '../observability/client-audit';
import { nextQuickExits, reforkDelayMs } from './backoff';
import type { MetricsJson, PrimaryMessage, WorkerMessage } from './ipc';

const SCRAPE_TIMEOUT_MS = 2_000;

function send(worker: Worker, message: PrimaryMessage): void {
  // A worker that is going away misses it; the callback keeps a closed channel from throwing.
  if (worker.isConnected()) worker.send(message, undefined, () => undefined);
}

export class WorkerPool {
  private readonly listening = new Map<number, AddressInfo>();
  private readonly bornAt = new Map<number, number>();
  private readonly scrapes = new Map<number, { left: number; parts: unknown[]; done: () => void }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private nextScrape = 1;
  private quickExits = 0;
  private closing = false;
  private starting?: { left: number; resolve(address: AddressInfo): void; reject(error: Error): void };

  constructor(
    private readonly count: number,
    private readonly logger: Logger,
    private readonly ticketKeys: () => Buffer,
  ) {}

  get listeningCount(): number {
    return this.listening.size;
  }

  /** Forks every worker; resolves once all listen, rejects with the first one's startup failure. */
  start(): Promise<AddressInfo> {
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: process.argv[1], args: process.argv.slice(2), silent: false });
    cluster.on('exit', (worker, code, signal) => this.exited(worker, code, signal));
    return new Promise((resolve, reject) => {
      this.starting = { left: this.count, resolve, reject };
      for (let i = 0; i < this.count; i++) this.fork();
    });
  }

  private fork(): void {
    const worker = cluster.fork();
    this.bornAt.set(worker.id, Date.now());
    worker.on('message', (message: WorkerMessage) => this.received(worker, message));
  }

  private received(worker: Worker, message: WorkerMessage): void {
    if (message.type === 'mtp:listening') {
      send(worker, { type: 'mtp:ticket-keys', keys: this.ticketKeys().toString('base64') });
      this.listening.set(worker.id, message.address);
      if (this.starting && --this.starting.left === 0) this.starting.resolve(message.address);
    } else if (message.type === 'mtp:startup-failed') {
      const error =
        message.exitCode === 2 ? new ConfigError(message.message) : new ListenError(message.message);
      this.failStartup(error);
    } else if (message.type === 'mtp:metrics' || message.type === 'mtp:clients') {
      const scrape = this.scrapes.get(message.id);
      if (!scrape) return;
      scrape.parts.push(message.type === 'mtp:metrics' ? message.metrics : message.report);
      if (--scrape.left === 0) scrape.done();
    }
  }

  private failStartup(error: Error): void {
    const starting = this.starting;
    this.starting = undefined;
    starting?.reject(error);
  }

  private exited(worker: Worker, code: number | null, signal: string | null): void {
    const wasListening = this.listening.delete(worker.id);
    if (this.closing) return;
    if (this.starting && !wasListening) {
      return this.failStartup(new ListenError(`a worker exited during startup (code ${code ?? signal})`));
    }
    const lived = Date.now() - (this.bornAt.get(worker.id) ?? 0);
    this.bornAt.delete(worker.id);
    this.quickExits = nextQuickExits(this.quickExits, lived);
    const delay = reforkDelayMs(this.quickExits);
    this.logger.error(
      { event: 'worker_exited', worker: worker.id, code, signal, refork_in_ms: delay },
      'a worker exited; starting a new one',
    );
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closing) this.fork();
    }, delay);
    this.timers.add(timer);
  }

  private workers(): Worker[] {
    return Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
  }

  broadcastTicketKeys(keys: Buffer): void {
    for (const worker of this.workers()) {
      if (this.listening.has(worker.id))
        send(worker, { type: 'mtp:ticket-keys', keys: keys.toString('base64') });
    }
  }

  signalAll(signal: NodeJS.Signals): void {
    for (const worker of this.workers()) worker.process.kill(signal);
  }

  /** SIGTERM to every worker (each drains), resolves when all have exited. */
  async close(): Promise<void> {
    this.closing = true;
    this.timers.forEach((timer) => clearTimeout(timer));
    const workers = this.workers().filter((w) => !w.isDead());
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            worker.once('exit', () => resolve());
            worker.process.kill('SIGTERM');
          }),
      ),
    );
  }

  /** Every listening worker's metrics plus `own`, summed (gauges per their aggregator). */
  async aggregate(own: MetricsJson): Promise<Registry> {
    const parts = await this.gather<MetricsJson>((id) => ({ type: 'mtp:metrics-request', id }));
    return AggregatorRegistry.aggregate([...parts, own]);
  }

  /** Every listening worker's /clients report, merged (undefined when none answered). */
  async clients(limit: number): Promise<ClientReport | undefined> {
    const parts = await this.gather<ClientReport>((id) => ({ type: 'mtp:clients-request', id, limit }));
    return mergeClientReports(parts, limit);
  }

  /** Asks every listening worker and collects the answers (a worker too busy to answer is left out). */
  private async gather<T>(request: (id: number) => PrimaryMessage): Promise<T[]> {
    const workers = this.workers().filter((w) => this.listening.has(w.id));
    const parts: unknown[] = [];
    if (workers.length === 0) return [];
    const id = this.nextScrape++;
    await new Promise<void>((done) => {
      this.scrapes.set(id, { left: workers.length, parts, done });
      setTimeout(done, SCRAPE_TIMEOUT_MS).unref();
      for (const worker of workers) send(worker, request(id));
    });
    this.scrapes.delete(id);
    return parts as T[];
  }
}
