/**
 * The flag table: every flag of every subcommand is declared here once (name, type, default,
 * description, validator, subcommands, and for serve where it lands in ServeConfig). From it come
 * the yargs options (src/cli/flag-options.ts), the MTP_* environment mapping, the --config keys
 * and their validation (./load.ts), and SERVE_DEFAULTS.
 *
 * Names are kebab-case as typed; the environment variable is MTP_ + the name in upper snake case
 * (--max-connections: MTP_MAX_CONNECTIONS); --config files use the name (or its camelCase form).
 */
import { BACKEND_TLS_MODES, CONNECTION_LOG_MODES, LOG_FORMATS } from '../core/values';
import * as P from './parse';

export type CommandName = 'serve' | 'connect-info' | 'certs' | 'bench' | 'check';
export type FlagType = 'string' | 'number' | 'boolean' | 'list';
export type FlagValue = string | number | boolean | readonly string[];

export interface FlagSpec {
  readonly name: string;
  readonly type: FlagType;
  readonly default?: FlagValue;
  readonly describe: string;
  readonly commands: readonly CommandName[];
  readonly group?: string;
  readonly alias?: string;
  readonly choices?: readonly string[];
  /** A string flag typed without a value (--require-secure-transport) means this. */
  readonly bareValue?: string;
  /** Shown in --help instead of the default itself. */
  readonly defaultDescription?: string;
  /** Another text in some subcommand's --help. */
  readonly describeFor?: Partial<Record<CommandName, string>>;
  /** serve: where the parsed value lands in ServeConfig, e.g. 'tls.minVersion'. */
  readonly path?: string;
  /** Parses and validates the merged value (the default when no source set it). */
  readonly parse?: (value: unknown, flag: string) => unknown;
  /** Non-serve flags: turns the typed value into what the command wants. */
  readonly coerce?: (value: never) => unknown;
  /** Not a configuration value: refused in --config files (--config itself, --check-config). */
  readonly commandLineOnly?: boolean;
}

/** Environment variable for a flag: MTP_ + upper snake case. */
export function envName(name: string): string {
  return `MTP_${name.replace(/-/g, '_').toUpperCase()}`;
}

export function camelName(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** TLS 1.2: ECDHE key exchange with AEAD ciphers only (TLS 1.3 suites are all AEAD). */
const DEFAULT_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

const SERVE = ['serve'] as const;
/** connect-info reads serve's --listen, --cert, --ca-file and --status (same defaults). */
const SERVE_AND_CONNECT_INFO = ['serve', 'connect-info'] as const;
const NET = 'Network:';
const TLS = 'TLS:';
const ACCESS = 'Access:';
const OBS = 'Observability:';

export const GLOBAL_FLAGS = [
  {
    name: 'config',
    type: 'string',
    describe: 'YAML or JSON file whose keys are flag names (flag > env > file > default)',
    commands: ['serve', 'connect-info', 'certs', 'bench', 'check'],
    commandLineOnly: true,
  },
] as const satisfies readonly FlagSpec[];

export const SERVE_FLAGS = [
  {
    name: 'listen',
    type: 'string',
    default: '0.0.0.0:4000',
    describe: 'Client-facing HOST:PORT ([::]:4000 for IPv6)',
    describeFor: { 'connect-info': "The proxy's client-facing HOST:PORT (as given to serve)" },
    commands: SERVE_AND_CONNECT_INFO,
    group: NET,
    path: 'listen.address',
    parse: (v, f) => P.hostPort(v, '', f),
  },
  {
    name: 'backend',
    type: 'string',
    default: '127.0.0.1:3306',
    describe: 'The MySQL/TiDB/MariaDB server HOST:PORT, or unix:/path/to/mysqld.sock for a local socket',
    commands: SERVE,
    group: NET,
    path: 'backend.address',
    parse: (v, f) => P.backendAddress(v, '', f),
  },
  {
    name: 'backend-local-address',
    type: 'string',
    describe: 'Source IP for connections to the backend',
    commands: SERVE,
    group: NET,
    path: 'backend.localAddress',
    parse: (v, f) => P.ipAddress(v, f),
  },
  {
    name: 'max-connections',
    type: 'number',
    default: 10_000,
    describe: 'Open client connections beyond this get ERR 1040',
    commands: SERVE,
    group: NET,
    path: 'listen.maxConnections',
    parse: (v, f) => P.int(v, 0, f, 1),
  },
  {
    name: 'handshake-timeout',
    type: 'number',
    default: 10_000,
    describe: 'ms for the whole connection phase (TLS and auth included)',
    commands: SERVE,
    group: NET,
    path: 'listen.handshakeTimeoutMs',
    parse: (v, f) => P.int(v, 0, f, 1),
  },
  {
    name: 'backend-connect-timeout',
    type: 'number',
    default: 5_000,
    describe: 'ms to open the backend connection',
    commands: SERVE,
    group: NET,
    path: 'backend.connectTimeoutMs',
    parse: (v, f) => P.int(v, 0, f, 1),
  },
  {
    name: 'drain-timeout',
    type: 'number',
    default: 30_000,
    describe: 'ms open sessions may finish after SIGTERM/SIGINT',
    commands: SERVE,
    group: NET,
    path: 'listen.drainTimeoutMs',
    parse: (v, f) => P.int(v, 0, f, 0),
  },
  {
    name: 'cert',
    type: 'string',
    default: 'certs/server.pem',
    describe:
      'Server certificate chain (PEM); generated with --key and --ca-file on first run if neither exists',
    describeFor: {
      'connect-info': 'The server certificate the proxy serves (its SANs decide the host name)',
    },
    commands: SERVE_AND_CONNECT_INFO,
    group: TLS,
    path: 'tls.cert',
    parse: (v, f) => P.str(v, '', f),
  },
  {
    name: 'key',
    type: 'string',
    default: 'certs/server-key.pem',
    describe: 'Server private key (PEM)',
    commands: SERVE,
    group: TLS,
    path: 'tls.key',
    parse: (v, f) => P.str(v, '', f),
  },
  {
    name: 'ca-file',
    type: 'string',
    default: 'certs/ca.pem',
    describe: 'The CA clients should trust; served at /ca.pem',
    describeFor: {
      'connect-info':
        "The CA clients should trust; if it does not exist, the examples use the system's trust store",
    },
    commands: SERVE_AND_CONNECT_INFO,
    group: TLS,
    path: 'tls.caFile',
    parse: (v, f) => P.str(v, '', f),
  },
  {
    name: 'tls-min-version',
    type: 'string',
    default: 'TLSv1.2',
    describe: 'Lowest TLS version offered: TLSv1.2 or TLSv1.3 (nothing below TLSv1.2, ever)',
    commands: SERVE,
    group: TLS,
    path: 'tls.minVersion',
    parse: (v, f) => P.tlsVersion(v, 'TLSv1.2', f),
  },
  {
    name: 'tls-max-version',
    type: 'string',
    default: 'TLSv1.3',
    describe: 'Highest TLS version offered: TLSv1.2 or TLSv1.3',
    commands: SERVE,
    group: TLS,
    path: 'tls.maxVersion',
    parse: (v, f) => P.tlsVersion(v, 'TLSv1.3', f),
  },
  {
    name: 'ciphers',
    type: 'string',
    default: DEFAULT_CIPHERS,
    defaultDescription: 'ECDHE with AEAD only',
    describe: 'OpenSSL cipher list for TLS 1.2',
    commands: SERVE,
    group: TLS,
    path: 'tls.ciphers',
    parse: (v, f) => P.str(v, '', f),
  },
  {
    name: 'ecdh-curves',
    type: 'string',
    default: 'X25519:P-256:P-384',
    describe: 'Key-exchange groups, colon-separated',
    commands: SERVE,
    group: TLS,
    path: 'tls.ecdhCurves',
    parse: (v, f) => P.str(v, '', f),
  },
  {
    name: 'tls-session-timeout',
    type: 'number',
    default: 300,
    describe: 'Seconds a client may resume its TLS session (ticket) without a full handshake',
    commands: SERVE,
    group: TLS,
    path: 'tls.sessionTimeoutS',
    // RFC 8446 §4.6.1: ticket lifetimes of at most 7 days.
    parse: (v, f) => P.int(v, 0, f, 1, 604_800),
  },
  {
    name: 'tls-ticket-key-rotation',
    type: 'number',
    default: 3_600,
    describe:
      'Seconds between fresh session ticket keys (one set shared by all --workers; older tickets then get a full handshake)',
    commands: SERVE,
    group: TLS,
    path: 'tls.ticketKeyRotationS',
    parse: (v, f) => P.int(v, 0, f, 60),
  },
  {
    name: 'cert-reload-interval',
    type: 'number',
    default: 300,
    describe:
      'Seconds between content checks of --cert, --key and --ca-file (reloaded only when their bytes changed; catches renewals no file event reported); 0: off',
    commands: SERVE,
    group: TLS,
    path: 'tls.reloadIntervalS',
    parse: (v, f) => P.int(v, 300, f, 0),
  },
  {
    name: 'cert-watch',
    type: 'boolean',
    default: true,
    describe:
      'Reload --cert, --key and --ca-file as soon as their directory reports a change (--no-cert-watch: only SIGHUP and --cert-reload-interval)',
    commands: SERVE,
    group: TLS,
    path: 'tls.watch',
    parse: (v, f) => P.bool(v, true, f),
  },
  {
    name: 'allow',
    type: 'list',
    default: ['127.0.0.1/32', '::1/128'],
    describe: 'Client CIDR allowed to connect (repeatable; env: comma list)',
    commands: SERVE,
    group: ACCESS,
    path: 'access.allow',
    parse: (v, f) => P.cidrs(v, [], f),
  },
  {
    name: 'require-secure-transport',
    // A string, so that 'warn' can be typed; the bare flag (and true/1) still means on.
    type: 'string',
    default: false,
    defaultDescription: 'off',
    bareValue: 'on',
    describe:
      'Plaintext logins: on (bare flag) refuses them with ERR 3159; warn relays them but logs user and client address and counts them (connections_would_be_rejected_total); off',
    commands: SERVE,
    group: ACCESS,
    path: 'access.requireSecureTransport',
    parse: (v, f) => P.boolOrWord(v, false, f, 'warn'),
  },
  {
    name: 'allow-file',
    type: 'string',
    describe: 'File of CIDRs (one per line, # comments), added to --allow; reloaded on SIGHUP and on change',
    commands: SERVE,
    group: ACCESS,
    path: 'access.allowFile',
    parse: (v, f) => P.optionalStr(v, f),
  },
  {
    name: 'allow-file-reload-interval',
    type: 'number',
    default: 300,
    describe:
      'Seconds between content checks of --allow-file (reloaded only when its bytes changed; catches changes no file event reported); 0: off',
    commands: SERVE,
    group: ACCESS,
    path: 'access.allowFileReloadIntervalS',
    parse: (v, f) => P.int(v, 300, f, 0),
  },
  {
    name: 'client-ca',
    type: 'string',
    describe:
      'Two-way TLS: require client certificates signed by this CA (PEM); implies TLS is required (plaintext logins get ERR 3159)',
    commands: SERVE,
    group: ACCESS,
    path: 'tls.clientCa',
    parse: (v, f) => P.optionalStr(v, f),
  },
  {
    name: 'proxy-protocol-from',
    type: 'list',
    describe: 'Load balancer CIDR whose PROXY v1/v2 header carries the real client address (repeatable)',
    commands: SERVE,
    group: ACCESS,
    path: 'access.proxyProtocolFrom',
    parse: (v, f) => P.cidrs(v, [], f),
  },
  {
    name: 'proxy-protocol-wait',
    type: 'number',
    default: 50,
    describe:
      "ms to wait for a balancer's PROXY header before greeting (for balancers that send it with the client's first bytes)",
    commands: SERVE,
    group: ACCESS,
    path: 'access.proxyProtocolWaitMs',
    parse: (v, f) => P.int(v, 0, f, 0),
  },
  {
    name: 'backend-proxy-protocol',
    type: 'string',
    default: 'off',
    describe:
      'v2: tell the backend the real client address in a PROXY v2 header (MariaDB proxy_protocol_networks, TiDB proxy-protocol.networks); off',
    commands: SERVE,
    group: NET,
    path: 'backend.proxyProtocol',
    parse: (v, f) => P.oneOf(v, 'off', f, ['off', 'v2'] as const),
  },
  {
    name: 'backend-tls',
    type: 'string',
    default: 'off',
    describe:
      'TLS to the backend: off, on (encrypt), verify-ca (encrypt and verify the chain with --backend-ca, any name), verify (also the name: --backend-server-name); not with a unix: backend',
    commands: SERVE,
    group: NET,
    path: 'backend.tls',
    parse: (v, f) => P.oneOf(v, 'off', f, BACKEND_TLS_MODES),
  },
  {
    name: 'backend-ca',
    type: 'string',
    describe: 'CA for --backend-tls verify and verify-ca (default: the system store)',
    commands: SERVE,
    group: NET,
    path: 'backend.ca',
    parse: (v, f) => P.optionalStr(v, f),
  },
  {
    name: 'backend-server-name',
    type: 'string',
    describe: "Name the backend certificate must carry (default: --backend's host)",
    commands: SERVE,
    group: NET,
    path: 'backend.serverName',
    parse: (v, f) => P.optionalStr(v, f),
  },
  {
    name: 'client-attrs',
    type: 'boolean',
    default: true,
    describe:
      'Add _client_ip, _client_port, _client_tls_version, _client_tls_cipher to connection attributes (--no-client-attrs: off)',
    commands: SERVE,
    group: NET,
    path: 'backend.clientAttrs',
    parse: (v, f) => P.bool(v, true, f),
  },
  {
    name: 'backend-probe-interval',
    type: 'number',
    default: 5_000,
    describe: 'ms between readiness probes of the backend (each a clean login attempt)',
    commands: SERVE,
    group: OBS,
    path: 'backend.probeIntervalMs',
    parse: (v, f) => P.int(v, 0, f, 100),
  },
  {
    name: 'backend-probe-failures',
    type: 'number',
    default: 3,
    describe: 'failed probes in a row before /readyz reports the backend unreachable',
    commands: SERVE,
    group: OBS,
    path: 'backend.probeFailures',
    parse: (v, f) => P.int(v, 0, f, 1),
  },
  {
    name: 'workers',
    type: 'number',
    default: 1,
    describe: 'Processes sharing the listener (0 = one per core); metrics on --status are summed over them',
    commands: SERVE,
    group: NET,
    path: 'listen.workers',
    parse: (v, f) => P.workers(v, 1, f),
  },
  {
    name: 'status',
    type: 'string',
    default: '127.0.0.1:9400',
    describe: "HTTP HOST:PORT for /metrics /healthz /readyz /ca.pem, or 'off'",
    describeFor: { 'connect-info': "The proxy's status HOST:PORT (for the /ca.pem URL), or 'off'" },
    commands: SERVE_AND_CONNECT_INFO,
    group: OBS,
    path: 'status.address',
    parse: (v, f) => P.optionalHostPort(v, '', f),
  },
  {
    name: 'log-level',
    type: 'string',
    default: 'info',
    describe: 'Log level: fatal, error, warn, info, debug, trace or silent',
    commands: SERVE,
    group: OBS,
    path: 'log.level',
    parse: (v, f) => P.logLevel(v, 'info', f),
  },
  {
    name: 'log-format',
    type: 'string',
    default: 'auto',
    describe:
      'Log lines on stdout: json (one object a line, for shippers), pretty (for people), auto (pretty on a terminal, json otherwise)',
    commands: SERVE,
    group: OBS,
    path: 'log.format',
    parse: (v, f) => P.oneOf(v, 'auto', f, LOG_FORMATS),
  },
  {
    name: 'log-connections',
    type: 'string',
    default: 'all',
    describe:
      'Per-connection close lines: all, errors (refusals, failures and errors only; not clean closes), none (metrics still count every one)',
    commands: SERVE,
    group: OBS,
    path: 'log.connections',
    parse: (v, f) => P.oneOf(v, 'all', f, CONNECTION_LOG_MODES),
  },
  {
    name: 'check-config',
    type: 'boolean',
    describe: 'Print the effective configuration and where each value came from, then exit (0 valid, 2 not)',
    commands: SERVE,
    commandLineOnly: true,
  },
] as const satisfies readonly FlagSpec[];

type Camel<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;
type Widen<T> = T extends string
  ? string
  : T extends number
    ? number
    : T extends boolean
      ? boolean
      : T extends readonly string[]
        ? readonly string[]
        : T;
type DefaultsOf<L extends readonly FlagSpec[]> = {
  readonly [F in L[number] as Camel<F['name']>]: F extends { default: infer D } ? Widen<D> : undefined;
};

/** serve's defaults by camelCase name (SERVE_DEFAULTS.handshakeTimeout), derived from the table. */
export const SERVE_DEFAULTS = Object.fromEntries(
  SERVE_FLAGS.map((flag: FlagSpec) => [camelName(flag.name), flag.default]),
) as DefaultsOf<typeof SERVE_FLAGS>;
