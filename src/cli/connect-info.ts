/**
 * `mysql-tls-proxy connect-info`: ready-to-paste connection examples that verify the proxy's
 * certificate (CA + host name), for the CLI clients, mysql2, Go, Python and JDBC.
 *
 * Takes --listen, --cert, --ca-file and --status with the same defaults as `serve` (and, like
 * every flag, from MTP_* variables and --config), reads the certificate to pick a host name that
 * is in its SANs, and never prints a password: the examples read it from $DB_PASSWORD.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SERVE_FLAGS, type FlagSpec } from '../config/flags';
import { addFlags } from './flag-options';
import type { Argv, CommandModule } from 'yargs';
import { ConfigError } from '../core/errors';
import { parseHostPort } from '../config/host-port';
import {
  CLIENT_IDS,
  chooseHost,
  connectExamples,
  renderConnectInfo,
  type ClientId,
  type ConnectTarget,
} from '../docs/connect-examples';
import { parseCertificates } from '../tls/credentials';
import { usageError } from './usage-error';

export interface ConnectInfoArgs {
  listen: string;
  cert: string;
  'ca-file': string;
  status: string;
  host?: string;
  user: string;
  database: string;
  'password-env': string;
  client?: ClientId[];
  json: boolean;
}

export const CONNECT_INFO_FLAGS: readonly FlagSpec[] = [
  {
    name: 'host',
    commands: ['connect-info'],
    type: 'string',
    describe: 'Host name clients use (default: picked from the certificate SANs and --listen)',
  },
  {
    name: 'user',
    commands: ['connect-info'],
    type: 'string',
    default: 'app',
    describe: 'Database user in the examples',
  },
  {
    name: 'database',
    commands: ['connect-info'],
    type: 'string',
    default: 'test',
    describe: 'Database in the examples',
  },
  {
    name: 'password-env',
    commands: ['connect-info'],
    type: 'string',
    default: 'DB_PASSWORD',
    describe: 'Environment variable the examples read the password from',
  },
  {
    name: 'client',
    commands: ['connect-info'],
    type: 'list',
    choices: CLIENT_IDS,
    describe: 'Only these clients (repeatable)',
  },
  {
    name: 'json',
    commands: ['connect-info'],
    type: 'boolean',
    default: false,
    describe: 'One JSON object: host, port, ca_file and the examples by client',
  },
];

function builder(yargs: Argv<object>): Argv<ConnectInfoArgs> {
  return addFlags(yargs, 'connect-info', [...SERVE_FLAGS, ...CONNECT_INFO_FLAGS]).usage(
    '$0 connect-info [options]\n\nPrint connection examples that verify the server certificate (CA and host name) for common MySQL clients.',
  ) as unknown as Argv<ConnectInfoArgs>;
}

export interface ConnectInfo {
  target: ConnectTarget;
  text: string;
  json: Record<string, unknown>;
}

/** Everything the command prints, from its arguments (exported for serve's startup block). */
export function buildConnectInfo(args: ConnectInfoArgs): ConnectInfo {
  const listen = parseHostPort(String(args.listen), '--listen');
  let certPem: Buffer;
  try {
    certPem = fs.readFileSync(args.cert);
  } catch (error) {
    throw new ConfigError(
      `cannot read the server certificate ${args.cert}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message} (start serve once, or run 'mysql-tls-proxy certs')`,
    );
  }
  if (parseCertificates(certPem).length === 0) {
    throw new ConfigError(`${args.cert}: not a PEM certificate`);
  }
  const passwordEnv = String(args['password-env']);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(passwordEnv)) {
    throw new ConfigError(`--password-env must be an environment variable name, got '${passwordEnv}'`);
  }
  const choice = chooseHost(certPem, listen.host, args.host);
  const caFile = fs.existsSync(args['ca-file']) ? path.resolve(args['ca-file']) : undefined;
  const target: ConnectTarget = {
    host: choice.host,
    port: listen.port,
    caFile,
    user: String(args.user),
    database: String(args.database),
    passwordEnv,
  };
  const status = String(args.status);
  let caUrl: string | undefined;
  if (caFile && status !== 'off') {
    const { host, port } = parseHostPort(status, '--status');
    const shown = host === '0.0.0.0' || host === '::' ? choice.host : host;
    caUrl = `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}/ca.pem`;
  }
  const wanted = new Set<ClientId>(args.client ?? CLIENT_IDS);
  const examples = connectExamples(target).filter((e) => wanted.has(e.id));
  const text = renderConnectInfo(target, choice, { caUrl, only: args.client });
  const json = {
    host: target.host,
    port: target.port,
    host_in_certificate: choice.matches,
    ca_file: caFile ?? null,
    ca_url: caUrl ?? null,
    user: target.user,
    database: target.database,
    password_env: passwordEnv,
    examples: Object.fromEntries(examples.map((e) => [e.id, { title: e.title, code: e.code }])),
  };
  return { target, text, json };
}

function handler(args: ConnectInfoArgs): void {
  let info: ConnectInfo;
  try {
    info = buildConnectInfo(args);
  } catch (error) {
    if (error instanceof ConfigError) return usageError(error.message);
    throw error;
  }
  process.stdout.write(args.json ? JSON.stringify(info.json, null, 2) + '\n' : info.text);
}

export const connectInfoCommand: CommandModule<object, ConnectInfoArgs> = {
  command: 'connect-info',
  describe: 'Print connection examples (CLI, mysql2, Go, Python, JDBC) that verify the server certificate',
  builder,
  handler,
};
