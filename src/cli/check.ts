/**
 * `mysql-tls-proxy check`: a TLS posture scan of a MySQL-protocol endpoint (every version, cipher,
 * group and signature algorithm it accepts; renegotiation, resumption, compression, plaintext
 * logins; the certificate chain) judged against a policy. Exit 0: no finding at or above
 * --fail-on; 1: findings; 2: bad usage or the endpoint could not be probed. See docs/check.md.
 */
import { readFileSync } from 'node:fs';
import type { FlagSpec } from '../config/flags';
import { addFlags } from './flag-options';
import type { Argv, CommandModule } from 'yargs';
import { ConfigError } from '../core/errors';
import { parseHostPort } from '../config/host-port';
import { scanEndpoint, type ScanOptions } from '../probe/scan';
import { atOrAbove, evaluate, exitCode } from '../probe/evaluate';
import { BUILT_IN_POLICIES, parsePolicy, SEVERITIES, type Policy, type Severity } from '../probe/policy';
import { checkText, type CheckReport } from '../probe/report-text';
import { compareScans, compareText } from '../probe/compare';
import { usageError } from './usage-error';

export interface CheckArgs {
  target?: string;
  ca?: string;
  'server-name'?: string;
  timeout: number;
  json: boolean;
  policy: string;
  'fail-on': string;
  concurrency: number;
  compare?: string;
}

export const CHECK_FLAGS: readonly FlagSpec[] = [
  { name: 'target', commands: ['check'], type: 'string', describe: 'MySQL-protocol endpoint HOST:PORT' },
  {
    name: 'ca',
    commands: ['check'],
    type: 'string',
    describe: 'CA file (PEM) to verify against (default: the system store)',
  },
  {
    name: 'server-name',
    commands: ['check'],
    type: 'string',
    describe: 'Name the certificate must match, also sent as SNI (default: the target host)',
  },
  { name: 'timeout', commands: ['check'], type: 'number', default: 5000, describe: 'ms per probe' },
  {
    name: 'json',
    commands: ['check'],
    type: 'boolean',
    default: false,
    describe: 'Print one JSON object with every fact',
  },
  {
    name: 'policy',
    commands: ['check'],
    type: 'string',
    default: 'tidb-cloud',
    describe:
      'tidb-cloud (TLS 1.2/1.3 only, forward-secret AEAD ciphers, verifiable chain, no renegotiation) or a JSON/YAML policy FILE (see docs/check.md)',
  },
  {
    name: 'fail-on',
    commands: ['check'],
    type: 'string',
    default: 'medium',
    choices: SEVERITIES,
    describe: 'Exit 1 when a finding has this severity or higher',
  },
  {
    name: 'concurrency',
    commands: ['check'],
    type: 'number',
    default: 8,
    describe: 'Probes (TLS handshakes) in flight at once',
  },
  {
    name: 'compare',
    commands: ['check'],
    type: 'string',
    describe: 'Also scan OTHER_HOST:PORT and print the differences (e.g. proxy vs database, before vs after)',
  },
];

function builder(yargs: Argv): Argv<CheckArgs> {
  return addFlags(yargs, 'check', CHECK_FLAGS)
    .usage(
      '$0 check --target HOST:PORT [--ca FILE] [--server-name NAME] [--policy tidb-cloud|FILE] [--fail-on SEVERITY] [--json] [--compare HOST:PORT]\n\n' +
        'Scan the TLS of a MySQL-protocol endpoint (MySQL in-band STARTTLS, no credentials sent): each TLS version, ' +
        'every cipher suite, key-exchange group and signature algorithm accepted, server cipher order, client-initiated ' +
        'renegotiation, session resumption (session id, tickets), compression, whether logins without TLS are processed, ' +
        'the certificate (key, signature, expiry, name) and the chain (order, completeness, verification). ' +
        'Findings are judged against a policy. Exit 0: no finding at or above --fail-on; 1: findings; 2: bad usage or the endpoint could not be probed.',
    )
    .example('$0 check --target 127.0.0.1:4000 --ca certs/ca.pem', 'the proxy with its development CA')
    .example(
      '$0 check --target db.example.com:4000 --json',
      'verified against the system store, every fact as JSON',
    )
    .example(
      '$0 check --target 127.0.0.1:4000 --ca certs/ca.pem --compare 127.0.0.1:3306',
      'proxy vs the database behind it',
    )
    .example(
      '$0 check --target db:3306 --policy my-policy.yaml --fail-on high',
      'your own policy in CI',
    ) as unknown as Argv<CheckArgs>;
}

function readCa(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`--ca ${path}: ${(error as Error).message}`);
  }
}

function endpoint(value: string, flag: string): { host: string; port: number } {
  const { host, port } = parseHostPort(value, flag);
  if (port === 0) throw new ConfigError(`${flag}: port 0 is not a server port`);
  return { host, port };
}

export function checkOptions(args: CheckArgs): ScanOptions {
  if (!args.target) throw new ConfigError('--target HOST:PORT is required');
  if (!Number.isInteger(args.timeout) || args.timeout < 1)
    throw new ConfigError(`--timeout must be an integer >= 1, got ${args.timeout}`);
  if (!Number.isInteger(args.concurrency) || args.concurrency < 1 || args.concurrency > 256)
    throw new ConfigError(`--concurrency must be an integer from 1 to 256, got ${args.concurrency}`);
  return {
    ...endpoint(args.target, '--target'),
    ca: readCa(args.ca),
    caLabel: args.ca,
    serverName: args['server-name'],
    timeoutMs: args.timeout,
    concurrency: args.concurrency,
  };
}

export function loadPolicy(value: string): Policy {
  const builtIn = BUILT_IN_POLICIES[value];
  if (builtIn) return builtIn;
  let text: string;
  try {
    text = readFileSync(value, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `--policy ${value}: not a built-in policy (${Object.keys(BUILT_IN_POLICIES).join(', ')}) and ${(error as Error).message}`,
    );
  }
  return parsePolicy(text, value);
}

async function scanAndJudge(options: ScanOptions, policy: Policy, failOn: Severity): Promise<CheckReport> {
  const facts = await scanEndpoint(options);
  const findings = evaluate(facts, policy);
  const failing = atOrAbove(findings, failOn);
  return {
    ...facts,
    policy: policy.name,
    failOn,
    findings,
    ok: failing.length === 0 && !facts.unreachable,
    problems: failing.map((f) => f.reason),
  };
}

async function handler(args: CheckArgs): Promise<void> {
  let options: ScanOptions;
  let policy: Policy;
  let other: { host: string; port: number } | undefined;
  try {
    options = checkOptions(args);
    policy = loadPolicy(args.policy);
    if (args.compare) other = endpoint(args.compare, '--compare');
  } catch (error) {
    if (error instanceof ConfigError) return usageError(error.message);
    throw error;
  }
  const failOn = args['fail-on'] as Severity;
  const [report, otherReport] = await Promise.all([
    scanAndJudge(options, policy, failOn),
    other
      ? scanAndJudge({ ...options, ...other, serverName: args['server-name'] }, policy, failOn)
      : undefined,
  ]);
  const code = Math.max(
    exitCode(report, report.findings, failOn),
    otherReport ? exitCode(otherReport, otherReport.findings, failOn) : 0,
  );
  if (!otherReport) {
    process.stdout.write(args.json ? JSON.stringify(report) + '\n' : checkText(report));
  } else {
    const differences = compareScans(
      { facts: report, findings: report.findings },
      { facts: otherReport, findings: otherReport.findings },
    );
    process.stdout.write(
      args.json
        ? JSON.stringify({ a: report, b: otherReport, differences }) + '\n'
        : compareText(report, otherReport, differences),
    );
  }
  process.exitCode = code;
}

export const checkCommand: CommandModule<object, CheckArgs> = {
  command: 'check',
  describe:
    'Scan the TLS posture of a MySQL endpoint (ciphers, groups, renegotiation, resumption, chain) against a policy',
  builder,
  handler,
};
