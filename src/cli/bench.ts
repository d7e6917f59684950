/**
 * `mysql-tls-proxy bench`: a MySQL TLS handshake load tester for any MySQL-protocol endpoint
 * (the proxy, MySQL, MariaDB, TiDB). See src/loadgen/.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { FlagSpec } from '../config/flags';
import { addFlags } from './flag-options';
import type { Argv, CommandModule } from 'yargs';
import { ConfigError } from '../core/errors';
import { parseHostPort } from '../config/host-port';
import type { BenchMode } from '../loadgen/load';
import type { Phase } from '../loadgen/phases';
import {
  benchJson,
  benchText,
  intervalJson,
  intervalLine,
  progressLine,
  type IntervalJson,
} from '../loadgen/report';
import { planShares, startBench, type BenchPlan, type BenchRun } from '../loadgen/run';
import {
  checkMeasurable,
  evaluateThresholds,
  parseMaxErrorRate,
  parseMaxP99,
  thresholdFailure,
  type Thresholds,
} from '../loadgen/thresholds';
import { usageError } from './usage-error';

export interface BenchArgs {
  target?: string;
  user?: string;
  password?: string;
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
  warmup?: number;
  'report-interval'?: number;
  'max-error-rate'?: string;
  'max-p99-ms'?: string[];
}

/** The load plus what the command does around it (warmup is in the plan, as each thread runs it). */
export interface BenchCommandPlan extends BenchPlan {
  thresholds: Thresholds;
  /** Seconds between interval lines. */
  reportIntervalS?: number;
}

const DEFAULT_DURATION_S = 10;
const DEFAULT_CLOSED_CONCURRENCY = 10;
const DEFAULT_OPEN_IN_FLIGHT = 1000;

export const BENCH_FLAGS: readonly FlagSpec[] = [
  {
    name: 'target',
    commands: ['bench'],
    type: 'string',
    describe: 'MySQL-protocol endpoint HOST:PORT',
    group: 'Target:',
  },
  {
    name: 'user',
    commands: ['bench'],
    type: 'string',
    describe: 'User to log in as (not needed with --mode tls-only)',
    group: 'Target:',
  },
  {
    name: 'password',
    commands: ['bench'],
    type: 'string',
    describe:
      'Password (default: $MYSQL_PWD, or $MTP_PASSWORD; either keeps it out of `ps`, unlike this flag)',
    group: 'Target:',
  },
  {
    name: 'database',
    commands: ['bench'],
    type: 'string',
    describe: 'Default database for the login',
    group: 'Target:',
  },
  {
    name: 'ca',
    commands: ['bench'],
    type: 'string',
    describe: 'CA file (PEM): verify the server certificate and name (otherwise not verified)',
    group: 'TLS:',
  },
  {
    name: 'server-name',
    commands: ['bench'],
    type: 'string',
    describe: 'SNI and the name the certificate must match (default: the target host)',
    group: 'TLS:',
  },
  {
    name: 'tls-version',
    commands: ['bench'],
    type: 'string',
    choices: ['TLSv1.2', 'TLSv1.3'],
    describe: 'Offer only this TLS version (default: 1.2 and 1.3)',
    group: 'TLS:',
  },
  {
    name: 'resume',
    commands: ['bench'],
    type: 'boolean',
    default: false,
    describe: 'Resume TLS sessions (tickets) from earlier connections',
    group: 'TLS:',
  },
  {
    name: 'mode',
    commands: ['bench'],
    type: 'string',
    choices: ['full', 'tls-only'],
    default: 'full',
    describe: 'full: TLS, login, optional --query, COM_QUIT; tls-only: close after the TLS handshake',
    group: 'Load:',
  },
  {
    name: 'concurrency',
    commands: ['bench'],
    type: 'number',
    describe: `Connections in flight (closed loop, default ${DEFAULT_CLOSED_CONCURRENCY}); with --rate the most in flight before arrivals queue (default ${DEFAULT_OPEN_IN_FLIGHT})`,
    group: 'Load:',
  },
  {
    name: 'duration',
    commands: ['bench'],
    type: 'number',
    describe: `Seconds to run (default ${DEFAULT_DURATION_S} unless --connections)`,
    group: 'Load:',
  },
  {
    name: 'connections',
    commands: ['bench'],
    type: 'number',
    describe: 'Stop after this many attempts',
    group: 'Load:',
  },
  {
    name: 'rate',
    commands: ['bench'],
    type: 'number',
    describe:
      'Open loop: new connections per second on a fixed schedule; latency counts from the scheduled time',
    group: 'Load:',
  },
  {
    name: 'query',
    commands: ['bench'],
    type: 'string',
    describe: 'Run this query after the login',
    group: 'Load:',
  },
  {
    name: 'workers',
    commands: ['bench'],
    type: 'number',
    default: 1,
    describe: 'Worker threads sharing the load, each with its own TLS context (0 = one per core)',
    group: 'Load:',
  },
  {
    name: 'timeout',
    commands: ['bench'],
    type: 'number',
    default: 10_000,
    describe: 'ms each connection may take before it counts as a timeout',
    group: 'Load:',
  },
  {
    name: 'json',
    commands: ['bench'],
    type: 'boolean',
    default: false,
    describe:
      'Print one JSON object (connections, errors, rate, p50_ms, p99_ms, phases, cpu_us_per_connection, thresholds, ...)',
    group: 'Output:',
  },
  {
    name: 'warmup',
    commands: ['bench'],
    type: 'number',
    describe:
      'Seconds of the same load first, counted nowhere (results, thresholds, CPU); the measured run starts when they are done',
    group: 'Load:',
  },
  {
    name: 'report-interval',
    commands: ['bench'],
    type: 'number',
    describe:
      'Every N seconds print a line to stdout (terminal or not): rate, errors, p50/p99 ms per phase; with --json one JSON object per line before the summary',
    group: 'Output:',
  },
  {
    name: 'max-error-rate',
    commands: ['bench'],
    type: 'string',
    describe: 'Exit 1 if errors / attempts is above this: a fraction (0.01) or a percentage (1%)',
    group: 'Thresholds (exit 1, reason on stderr):',
  },
  {
    name: 'max-p99-ms',
    commands: ['bench'],
    type: 'list',
    describe:
      "Exit 1 if a phase's p99 is above MS: PHASE=MS[,PHASE=MS...], repeatable; phases connect, greeting, tls, auth, query, total; a bare number is total",
    group: 'Thresholds (exit 1, reason on stderr):',
  },
];

function builder(yargs: Argv): Argv<BenchArgs> {
  return addFlags(yargs, 'bench', BENCH_FLAGS)
    .usage(
      '$0 bench --target HOST:PORT --user U --password P [options]\n\n' +
        'Open MySQL connections over TLS as fast as possible (closed loop) or at a fixed rate (open loop) ' +
        'and report connections/s, latency percentiles per phase (connect = TCP, greeting, tls, auth, query with --query, total), ' +
        'TLS versions and ciphers, client CPU per connection, and errors by kind.',
    )
    .example(
      '$0 bench --target 127.0.0.1:4000 --user app --password secret --ca certs/ca.pem --duration 10',
      'closed loop, 10 connections in flight, for 10 s',
    )
    .example(
      '$0 bench --target 127.0.0.1:4000 --user app --password secret --rate 500 --duration 30 --json',
      '500 new connections per second for 30 s, one JSON object',
    )
    .example(
      'MYSQL_PWD=secret $0 bench --target 127.0.0.1:4000 --user app --warmup 5 --duration 60 --report-interval 10 --max-error-rate 0.1% --max-p99-ms tls=5,total=20',
      'CI: 5 s warmup, a line every 10 s, exit 1 if more than 0.1 % fail or a p99 is over its limit',
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

/** The phases a run measures, so a threshold on another one is refused rather than never crossed. */
export function measuredPhases(mode: BenchMode, query: string | undefined): Phase[] {
  const phases: Phase[] = ['connect', 'greeting', 'tls'];
  if (mode === 'full') phases.push('auth');
  if (mode === 'full' && query !== undefined) phases.push('query');
  phases.push('total');
  return phases;
}

export function benchPlan(args: BenchArgs, env: NodeJS.ProcessEnv = process.env): BenchCommandPlan {
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
  const warmupS = args.warmup === 0 ? undefined : positiveNumber(args.warmup, '--warmup');
  const reportIntervalS = positiveNumber(args['report-interval'], '--report-interval');
  const thresholds: Thresholds = {
    maxErrorRate: parseMaxErrorRate(args['max-error-rate']),
    maxP99Ms: parseMaxP99(args['max-p99-ms']),
  };
  checkMeasurable(thresholds, measuredPhases(mode, args.query));
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
    // MYSQL_PWD as the mysql client reads it; --password (or MTP_PASSWORD) wins.
    password: args.password ?? env.MYSQL_PWD ?? '',
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
    warmupMs: warmupS === undefined ? undefined : warmupS * 1000,
    intervals: reportIntervalS !== undefined,
    thresholds,
    reportIntervalS,
  };
}

async function handler(args: BenchArgs): Promise<void> {
  let commandPlan: BenchCommandPlan;
  try {
    commandPlan = benchPlan(args);
  } catch (error) {
    if (error instanceof ConfigError) return usageError(error.message);
    throw error;
  }
  const { thresholds, reportIntervalS, ...plan } = commandPlan;
  const run = startBench(plan);
  const stopOnSigint = sigintStopper(run);
  const clock = new MeasureClock();
  const intervals = new IntervalReporter(run, clock, reportIntervalS, args.json === true);
  void run.measuring.then(() => {
    clock.restart(); // everything reported counts from the end of the warmup
    intervals.start();
  });
  const ticker = reportIntervalS === undefined ? progressTicker(run, clock, plan) : undefined;
  try {
    const result = await run.result;
    const cpu = process.cpuUsage(clock.cpuBefore);
    await intervals.finish(clock.measuring);
    if (ticker) process.stderr.write('\r\x1b[K');
    report(args, { ...plan, reportIntervalS }, thresholds, result, cpu, intervals.lines);
  } finally {
    intervals.cancel();
    if (ticker) clearInterval(ticker);
    process.off('SIGINT', stopOnSigint);
  }
}

/** Ctrl-C once stops the run and reports; twice exits at once. */
function sigintStopper(run: BenchRun): () => void {
  let stopping = false;
  const onSigint = (): void => {
    if (stopping) process.exit(130);
    stopping = true;
    run.stop();
  };
  process.on('SIGINT', onSigint);
  return onSigint;
}

/** Wall clock and CPU since the measurement started (the end of the warmup, if any). */
class MeasureClock {
  measuring = false;
  cpuBefore = process.cpuUsage();
  started = performance.now();

  restart(): void {
    this.measuring = true;
    this.cpuBefore = process.cpuUsage();
    this.started = performance.now();
  }
}

/** --report-interval: one line (or JSON object) per interval, to stdout whatever it is. */
class IntervalReporter {
  readonly lines: IntervalJson[] = [];
  private lastAt = 0;
  private timer?: NodeJS.Timeout;
  private pending: Promise<void> = Promise.resolve();
  private finished = false;

  constructor(
    private readonly run: BenchRun,
    private readonly clock: MeasureClock,
    private readonly everyS: number | undefined,
    private readonly json: boolean,
  ) {}

  start(): void {
    if (this.everyS !== undefined) this.schedule();
  }

  /** Stops the timer, waits for a line being written, then writes the tail (if it did something). */
  async finish(measuring: boolean): Promise<void> {
    this.cancel();
    await this.pending;
    if (this.everyS !== undefined && measuring) await this.print(true);
  }

  cancel(): void {
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    const next = this.clock.started + (this.lines.length + 1) * this.everyS! * 1000;
    this.timer = setTimeout(
      () => {
        this.pending = this.print(false).then(() => {
          if (!this.finished) this.schedule();
        });
      },
      Math.max(0, next - performance.now()),
    );
  }

  private async print(final: boolean): Promise<void> {
    const samples = await this.run.interval();
    const elapsedS = (performance.now() - this.clock.started) / 1000;
    const interval = intervalJson(samples, elapsedS, elapsedS - this.lastAt);
    this.lastAt = elapsedS;
    // The tail after the last full interval only when it did something: a connection attempted in
    // the last full interval may complete in the tail, so attempts alone would lose it.
    if (final && interval.attempts + interval.connections + interval.errors === 0) return;
    this.lines.push(interval);
    process.stdout.write(this.json ? JSON.stringify(interval) + '\n' : intervalLine(interval) + '\n');
  }
}

/** On a terminal without --report-interval: a progress line on stderr, four times a second. */
function progressTicker(run: BenchRun, clock: MeasureClock, plan: BenchPlan): NodeJS.Timeout | undefined {
  if (!process.stdout.isTTY) return undefined;
  let last = { at: clock.started, connections: 0 };
  return setInterval(() => {
    if (!clock.measuring) return;
    const now = performance.now();
    const progress = run.progress();
    const rate = ((progress.connections - last.connections) * 1000) / Math.max(1, now - last.at);
    last = { at: now, connections: progress.connections };
    const fraction =
      plan.connections !== undefined
        ? progress.attempts / plan.connections
        : (now - clock.started) / (plan.durationMs ?? 1);
    process.stderr.write(`\r${progressLine(progress, fraction, rate)}\x1b[K`);
  }, 250);
}

/** The final report, the thresholds' verdict and the exit code. */
function report(
  args: BenchArgs,
  plan: BenchPlan & { reportIntervalS?: number },
  thresholds: BenchCommandPlan['thresholds'],
  result: Awaited<BenchRun['result']>,
  cpu: NodeJS.CpuUsage,
  intervals: IntervalJson[],
): void {
  const phaseP99 = Object.fromEntries(
    [...Object.entries(result.phases.byPhase)].map(([phase, h]) => [
      phase,
      Math.round(h.percentile(99)) / 1000,
    ]),
  );
  const checked = evaluateThresholds(thresholds, {
    attempts: result.attempts,
    errors: result.errors,
    p99Ms: phaseP99,
  });
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
    warmupS: plan.warmupMs === undefined ? undefined : plan.warmupMs / 1000,
    reportIntervalS: plan.reportIntervalS,
    intervals,
    thresholds: checked,
  });
  process.stdout.write(args.json ? JSON.stringify(json) + '\n' : benchText(json));
  // A run in which not a single connection succeeded is a failure; errors under load are results
  // unless --max-error-rate says otherwise.
  if (json.connections === 0) process.exitCode = 1;
  const failure = thresholdFailure(checked);
  if (failure) {
    process.stderr.write(failure + '\n');
    process.exitCode = 1;
  }
}

export const benchCommand: CommandModule<object, BenchArgs> = {
  command: 'bench',
  describe: 'Load-test MySQL TLS connections (handshake, login, quit) against any MySQL-protocol endpoint',
  builder,
  handler,
};
