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
import type { Argv, CommandModule } from 'yargs';
import { SERVE_DEFAULTS } from '../config/defaults';
import { ConfigError } from '../config/errors';
import { parseHostPort } from '../config/host-port';
import {
  CLIENT_IDS,
  chooseHost,
  connectExamples,
  renderConnectInfo,
  startupConnectBlock,
  type ClientId,
  type ConnectTarget,
} from '../tls/connect-examples';
import type { Logger } from '../observability/logger';
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

function builder(yargs: Argv<object>): Argv<ConnectInfoArgs> {
  return yargs
    .usage(
      '$0 connect-info [options]\n\nPrint connection examples that verify the server certificate (CA and host name) for common MySQL clients.',
    )
    .option('listen', {
      type: 'string',
      default: SERVE_DEFAULTS.listen,
      describe: "The proxy's client-facing HOST:PORT (as given to serve)",
    })
    .option('cert', {
      type: 'string',
      default: SERVE_DEFAULTS.cert,
      describe: 'The server certificate the proxy serves (its SANs decide the host name)',
    })
    .option('ca-file', {
      type: 'string',
      default: SERVE_DEFAULTS.caFile,
      describe:
        "The CA clients should trust; if it does not exist, the examples use the system's trust store",
    })
    .option('status', {
      type: 'string',
      default: SERVE_DEFAULTS.status,
      describe: "The proxy's status HOST:PORT (for the /ca.pem URL), or 'off'",
    })
    .option('host', {
      type: 'string',
      describe: 'Host name clients use (default: picked from the certificate SANs and --listen)',
    })
    .option('user', { type: 'string', default: 'app', describe: 'Database user in the examples' })
    .option('database', { type: 'string', default: 'test', describe: 'Database in the examples' })
    .option('password-env', {
      type: 'string',
      default: 'DB_PASSWORD',
      describe: 'Environment variable the examples read the password from',
    })
    .option('client', {
      type: 'string',
      array: true,
      choices: CLIENT_IDS,
      describe: 'Only these clients (repeatable)',
    })
    .option('json', {
      type: 'boolean',
      default: false,
      describe: 'One JSON object: host, port, ca_file and the examples by client',
    }) as unknown as Argv<ConnectInfoArgs>;
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

/**
 * serve's startup announcement: one `connect_info` log event (mariadb command and mysql2 snippet)
 * and, when stderr is a terminal, a short human block there (stdout carries the JSON logs).
 */
export function announceConnectInfo(
  served: { listenHost: string; port: number; certPem: Buffer; caFile?: string },
  logger: Logger,
  stderr: NodeJS.WriteStream = process.stderr,
): void {
  let choice;
  try {
    choice = chooseHost(served.certPem, served.listenHost);
  } catch {
    return; // a chain loadCredentials accepted always parses; never fail startup over examples
  }
  const target: ConnectTarget = {
    host: choice.host,
    port: served.port,
    caFile: served.caFile ? path.resolve(served.caFile) : undefined,
    user: 'app',
    database: 'test',
    passwordEnv: 'DB_PASSWORD',
  };
  const byId = new Map(connectExamples(target).map((e) => [e.id, e.code]));
  logger.info(
    {
      event: 'connect_info',
      host: target.host,
      port: target.port,
      host_in_certificate: choice.matches,
      ca_file: target.caFile,
      mariadb: byId.get('mariadb'),
      mysql2: byId.get('mysql2'),
    },
    `connect with: ${byId.get('mariadb')} (more: mysql-tls-proxy connect-info)`,
  );
  if (stderr.isTTY) stderr.write(startupConnectBlock(target).join('\n') + '\n');
}
