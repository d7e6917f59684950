/**
 * `mysql-tls-proxy check`: probe a MySQL endpoint's TLS (versions, ciphers, certificate chain,
 * verification). Exit 0 only if nothing below TLS 1.2 is accepted and the certificate verifies.
 */
import { readFileSync } from 'node:fs';
import type { FlagSpec } from '../config/flags';
import { addFlags } from './flag-options';
import type { Argv, CommandModule } from 'yargs';
import { ConfigError } from '../core/errors';
import { parseHostPort } from '../config/host-port';
import { checkEndpoint, checkText, type CheckOptions } from '../probe/tls-probe';
import { usageError } from './usage-error';

export interface CheckArgs {
  target?: string;
  ca?: string;
  'server-name'?: string;
  timeout: number;
  json: boolean;
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
  { name: 'json', commands: ['check'], type: 'boolean', default: false, describe: 'Print one JSON object' },
];

function builder(yargs: Argv): Argv<CheckArgs> {
  return addFlags(yargs, 'check', CHECK_FLAGS)
    .usage(
      '$0 check --target HOST:PORT [--ca FILE] [--server-name NAME] [--json]\n\n' +
        'Probe TLS 1.0, 1.1, 1.2 and 1.3 one at a time and the plaintext greeting of a MySQL endpoint; ' +
        'report accepted versions, ciphers, the certificate chain and whether it verifies. ' +
        'Exit 0 only if nothing below TLS 1.2 is accepted and the certificate verifies.',
    )
    .example('$0 check --target 127.0.0.1:4000 --ca certs/ca.pem', 'the proxy with its development CA')
    .example(
      '$0 check --target db.example.com:4000 --json',
      'verified against the system store',
    ) as unknown as Argv<CheckArgs>;
}

export function checkOptions(args: CheckArgs): CheckOptions {
  if (!args.target) throw new ConfigError('--target HOST:PORT is required');
  const { host, port } = parseHostPort(args.target, '--target');
  if (port === 0) throw new ConfigError('--target: port 0 is not a server port');
  if (!Number.isInteger(args.timeout) || args.timeout < 1) {
    throw new ConfigError(`--timeout must be an integer >= 1, got ${args.timeout}`);
  }
  let ca: string | undefined;
  if (args.ca !== undefined) {
    try {
      ca = readFileSync(args.ca, 'utf8');
    } catch (error) {
      throw new ConfigError(`--ca ${args.ca}: ${(error as Error).message}`);
    }
  }
  return { host, port, ca, caLabel: args.ca, serverName: args['server-name'], timeoutMs: args.timeout };
}

async function handler(args: CheckArgs): Promise<void> {
  let options: CheckOptions;
  try {
    options = checkOptions(args);
  } catch (error) {
    if (error instanceof ConfigError) return usageError(error.message);
    throw error;
  }
  const report = await checkEndpoint(options);
  process.stdout.write(args.json ? JSON.stringify(report) + '\n' : checkText(report));
  if (!report.ok) process.exitCode = 1;
}

export const checkCommand: CommandModule<object, CheckArgs> = {
  command: 'check',
  describe: 'Probe the TLS versions, ciphers and certificate of a MySQL endpoint',
  builder,
  handler,
};
