/**
 * `mysql-tls-proxy bench`: a MySQL TLS handshake load tester for any MySQL-protocol endpoint
 * (the proxy, MySQL, MariaDB, TiDB). See src/loadgen/.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Argv, CommandModule } from 'yargs';
import { ConfigError } from '../config/errors';
import { parseHostPort } from '../config/host-port';
import type { BenchMode } from '../loadgen/load';
import { benchJson, benchText, progressLine } from '../loadgen/report';
import { planShares, startBench, type BenchPlan } from '../loadgen/run';
import { usageError } from './usage-error';

export interface BenchArgs {
  target?: string;
  user?: string;
  password: string;
  database?: string;
  ca?: string;
  'server-name'?: string;
  'tls-version'?: string;
  concurrency?: number;
  duration?: number;
  connections?: number;
  query?: string;
  mode: string;
  resume: boolean;
  rate?: number;
  workers: number;
  timeout: number;
  json: boolean;
}

const DEFAULT_DURATION_S = 10;
const DEFAULT_CLOSED_CONCURRENCY = 10;
const DEFAULT_OPEN_IN_FLIGHT = 1000;

function builder(yargs: Argv): Argv<BenchArgs> {
  return yargs
    .usage(
      '$0 bench --target HOST:PORT --user U --password P [options]\n\n' +
        'Open MySQL connections over TLS as fast as possible (closed loop) or at a fixed rate (open loop) ' +
        'and report connections/s, latency percentiles, TLS versions and ciphers, and errors by kind.',
    )
    .option('target', { type: 'string', describe: 'MySQL-protocol endpoint HOST:PORT', group: 'Target:' })
    .option('user', {
      type: 'string',
      describe: 'User to log in as (not needed with --mode tls-only)',
      group: 'Target:',
    })
    .option('password', { type: 'string', default: '', describe: 'Password', group: 'Target:' })
    .option('database', { type: 'string', describe: 'Default database for the login', group: 'Target:' })
    .option('ca', {
      type: 'string',
      describe: 'CA file (PEM): verify the server certificate and name (otherwise not verified)',
      group: 'TLS:',
    })
    .option('server-name', {
      type: 'string',
      describe: 'SNI and the name the certificate must match (default: the target host)',
      group: 'TLS:',
    })
    .option('tls-version', {
      type: 'string',
      choices: ['TLSv1.2', 'TLSv1.3'],
      describe: 'Offer only this TLS version (default: 1.2 and 1.3)',
      group: 'TLS:',
    })
    .option('resume', {
      type: 'boolean',
      default: false,
      describe: 'Resume TLS sessions (tickets) from earlier connections',
      group: 'TLS:',
    })
    .option('mode', {
      type: 'string',
      choices: ['full', 'tls-only'],
      default: 'full',
      describe: 'full: TLS, login, optional --query, COM_QUIT; tls-only: close after the TLS handshake',
      group: 'Load:',
    })
    .option('concurrency', {
      type: 'number',
      describe: `Connections in flight (closed loop, default ${DEFAULT_CLOSED_CONCURRENCY}); with --rate the most in flight before arrivals queue (default ${DEFAULT_OPEN_IN_FLIGHT})`,
      group: 'Load:',
    })
    .option('duration', {
      type: 'number',
      describe: `Seconds to run (default ${DEFAULT_DURATION_S} unless --connections)`,
      group: 'Load:',
    })
    .option('connections', { type: 'number', describe: 'Stop after this many attempts', group: 'Load:' })
    .option('rate', {
      type: 'number',
      describe:
        'Open loop: new connections per second on a fixed schedule; latency counts from the scheduled time',
      group: 'Load:',
    })
    .option('query', { type: 'string', describe: 'Run this query after the login', group: 'Load:' })
    .option('workers', {
      type: 'number',
      default: 1,
      describe: 'Worker threads sharing the load, each with its own TLS context (0 = one per core)',
      group: 'Load:',
    })
    .option('timeout', {
      type: 'number',
      default: 10_000,
      describe: 'ms each connection may take before it counts as a timeout',
      group: 'Load:',
    })
    .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object', group: 'Output:' })
    .example(
      '$0 bench --target 127.0.0.1:4000 --user app --password secret --ca certs/ca.pem --duration 10',
      'closed loop, 10 connections in flight, for 10 s',
    )
    .example(
      '$0 bench --target 127.0.0.1:4000 --user app --password secret --rate 500 --duration 30 --json',
      '500 new connections per second for 30 s, one JSON object',
    ) as unknown as Argv<BenchArgs>;
}

function positiveInteger(value: number | undefined, flag: string, min = 1): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < min)
    throw new ConfigError(`${flag} must be an integer >= ${min}, got ${value}`);
  return value;
}

function positiveNumber(value: number | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isFinite(value) || value <= 0)
    throw new ConfigError(`${flag} must be a number > 0, got ${value}`);
  return value;
}

export function benchPlan(args: BenchArgs): BenchPlan {
  if (!args.target) throw new ConfigError('--target HOST:PORT is required');
  const { host, port } = parseHostPort(args.target, '--target');
  if (port === 0) throw new ConfigError('--target: port 0 is not a server port');
  const mode = args.mode as BenchMode;
  if (mode === 'full' && !args.user) throw new ConfigError('--user is required (or --mode tls-only)');
  if (args.duration !== undefined && args.connections !== undefined) {
    throw new ConfigError('give either --duration or --connections, not both');
  }
  const rate = positiveNumber(args.rate, '--rate');
  const duration = positiveNumber(args.duration, '--duration');
  const connections = positiveInteger(args.connections, '--connections');
  const concurrency =
    positiveInteger(args.concurrency, '--concurrency') ??
    (rate === undefined ? DEFAULT_CLOSED_CONCURRENCY : DEFAULT_OPEN_IN_FLIGHT);
  let workers = positiveInteger(args.workers, '--workers', 0) ?? 1;
  if (workers === 0) workers = os.availableParallelism();
  const timeoutMs = positiveInteger(args.timeout, '--timeout') ?? 10_000;
  let ca: string | undefined;
  if (args.ca !== undefined) {
    try {
      ca = readFileSync(args.ca, 'utf8');
    } catch (error) {
      throw new ConfigError(`--ca ${args.ca}: ${(error as Error).message}`);
    }
  }
  return {
    host,
    port,
    user: args.user ?? '',
    password: args.password ?? '',
    database: args.database,
    ca,
    serverName: args['server-name'],
    tlsVersion: args['tls-version'] as BenchPlan['tlsVersion'],
    mode,
    query: args.query,
    resume: args.resume,
    concurrency,
    rate,
    durationMs: connections === undefined ? (duration ?? DEFAULT_DURATION_S) * 1000 : undefined,
    connections,
    timeoutMs,
    workers,
  };
}

async function handler(args: BenchArgs): Promise<void> {
  let plan: BenchPlan;
  try {
    plan = benchPlan(args);
  } catch (error) {
    if (error instanceof ConfigError) return usageError(error.message);
    throw error;
  }
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const run = startBench(plan);

  let stopping = false;
  const onSigint = (): void => {
    if (stopping) process.exit(130);
    stopping = true;
    run.stop();
  };
  process.on('SIGINT', onSigint);

  let ticker: NodeJS.Timeout | undefined;
  if (process.stdout.isTTY) {
    let last = { at: started, connections: 0 };
    let rate = 0;
    ticker = setInterval(() => {
      const now = performance.now();
      const progress = run.progress();
      rate = ((progress.connections - last.connections) * 1000) / Math.max(1, now - last.at);
      last = { at: now, connections: progress.connections };
      const fraction =
        plan.connections !== undefined
          ? progress.attempts / plan.connections
          : (now - started) / (plan.durationMs ?? 1);
      process.stderr.write(`\r${progressLine(progress, fraction, rate)}\x1b[K`);
    }, 250);
  }

  try {
    const result = await run.result;
    const cpu = process.cpuUsage(cpuBefore);
    const json = benchJson(result, {
      target: args.target!,
      mode: plan.mode,
      workers: planShares(plan).length,
      concurrency: plan.concurrency,
      targetRate: plan.rate,
      durationS: plan.durationMs === undefined ? undefined : plan.durationMs / 1000,
      connectionsRequested: plan.connections,
      query: plan.query,
      resume: plan.resume,
      verified: plan.ca !== undefined,
      tlsVersion: plan.tlsVersion,
      cpuS: (cpu.user + cpu.system) / 1e6,
    });
    if (ticker) process.stderr.write('\r\x1b[K');
    process.stdout.write(args.json ? JSON.stringify(json) + '\n' : benchText(json));
    // A run in which not a single connection succeeded is a failure; errors under load are results.
    if (json.connections === 0) process.exitCode = 1;
  } finally {
    if (ticker) clearInterval(ticker);
    process.off('SIGINT', onSigint);
  }
}

export const benchCommand: CommandModule<object, BenchArgs> = {
  command: 'bench',
  describe: 'Load-test MySQL TLS connections (handshake, login, quit) against any MySQL-protocol endpoint',
  builder,
  handler,
};
