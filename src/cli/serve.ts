import type { Argv, CommandModule } from 'yargs';
import { SERVE_DEFAULTS } from '../config/defaults';
import { ConfigError } from '../config/errors';
import { validateServeConfig, type RawServeOptions } from '../config/serve-config';
import { createLogger } from '../observability/logger';
import { ListenError, startProxy } from '../proxy';
import { announceConnectInfo } from './connect-info';
import { usageError } from './usage-error';
import { isClusterWorker, runPrimary, serveAsWorker } from '../cluster';

const d = SERVE_DEFAULTS;

function builder(yargs: Argv): Argv<RawServeOptions> {
  return yargs
    .usage(
      '$0 serve [options]\n\nTerminate MySQL TLS (TLS 1.2/1.3, in-band after the greeting) in front of a plain-TCP MySQL, MariaDB or TiDB server.',
    )
    .option('listen', {
      type: 'string',
      default: d.listen,
      describe: 'Client-facing HOST:PORT ([::]:4000 for IPv6)',
      group: 'Network:',
    })
    .option('backend', {
      type: 'string',
      default: d.backend,
      describe: 'The MySQL/TiDB/MariaDB server HOST:PORT',
      group: 'Network:',
    })
    .option('backend-local-address', {
      type: 'string',
      describe: 'Source IP for connections to the backend',
      group: 'Network:',
    })
    .option('max-connections', {
      type: 'number',
      default: d.maxConnections,
      describe: 'Open client connections beyond this get ERR 1040',
      group: 'Network:',
    })
    .option('handshake-timeout', {
      type: 'number',
      default: d.handshakeTimeout,
      describe: 'ms for the whole connection phase (TLS and auth included)',
      group: 'Network:',
    })
    .option('backend-connect-timeout', {
      type: 'number',
      default: d.backendConnectTimeout,
      describe: 'ms to open the backend connection',
      group: 'Network:',
    })
    .option('drain-timeout', {
      type: 'number',
      default: d.drainTimeout,
      describe: 'ms open sessions may finish after SIGTERM/SIGINT',
      group: 'Network:',
    })
    .option('cert', {
      type: 'string',
      default: d.cert,
      describe:
        'Server certificate chain (PEM); generated with --key and --ca-file on first run if neither exists',
      group: 'TLS:',
    })
    .option('key', { type: 'string', default: d.key, describe: 'Server private key (PEM)', group: 'TLS:' })
    .option('ca-file', {
      type: 'string',
      default: d.caFile,
      describe: 'The CA clients should trust; served at /ca.pem',
      group: 'TLS:',
    })
    .option('tls-min-version', {
      type: 'string',
      default: d.tlsMinVersion,
      describe: 'Lowest TLS version offered: TLSv1.2 or TLSv1.3 (nothing below TLSv1.2, ever)',
      group: 'TLS:',
    })
    .option('tls-max-version', {
      type: 'string',
      default: d.tlsMaxVersion,
      describe: 'Highest TLS version offered: TLSv1.2 or TLSv1.3',
      group: 'TLS:',
    })
    .option('ciphers', {
      type: 'string',
      default: d.ciphers,
      defaultDescription: 'ECDHE with AEAD only',
      describe: 'OpenSSL cipher list for TLS 1.2',
      group: 'TLS:',
    })
    .option('ecdh-curves', {
      type: 'string',
      default: d.ecdhCurves,
      describe: 'Key-exchange groups, colon-separated',
      group: 'TLS:',
    })
    .option('tls-session-timeout', {
      type: 'number',
      default: d.tlsSessionTimeout,
      describe: 'Seconds a client may resume its TLS session (ticket) without a full handshake',
      group: 'TLS:',
    })
    .option('tls-ticket-key-rotation', {
      type: 'number',
      default: d.tlsTicketKeyRotation,
      describe:
        'Seconds between fresh session ticket keys (one set shared by all --workers; older tickets then get a full handshake)',
      group: 'TLS:',
    })
    .option('allow', {
      type: 'string',
      array: true,
      default: [...d.allow],
      describe: 'Client CIDR allowed to connect (repeatable; env: comma list)',
      group: 'Access:',
    })
    .option('require-secure-transport', {
      type: 'boolean',
      default: d.requireSecureTransport,
      describe: 'Refuse plaintext logins with ERR 3159',
      group: 'Access:',
    })
    .option('allow-file', {
      type: 'string',
      describe:
        'File of CIDRs (one per line, # comments), added to --allow; reloaded on SIGHUP and on change',
      group: 'Access:',
    })
    .option('client-ca', {
      type: 'string',
      describe:
        'Two-way TLS: require client certificates signed by this CA (PEM); implies TLS is required (plaintext logins get ERR 3159)',
      group: 'Access:',
    })
    .option('proxy-protocol-from', {
      type: 'string',
      array: true,
      describe: 'Load balancer CIDR whose PROXY v1/v2 header carries the real client address (repeatable)',
      group: 'Access:',
    })
    .option('proxy-protocol-wait', {
      type: 'number',
      default: d.proxyProtocolWait,
      describe:
        "ms to wait for a balancer's PROXY header before greeting (for balancers that send it with the client's first bytes)",
      group: 'Access:',
    })
    .option('backend-proxy-protocol', {
      type: 'string',
      default: d.backendProxyProtocol,
      describe:
        'v2: tell the backend the real client address in a PROXY v2 header (MariaDB proxy_protocol_networks, TiDB proxy-protocol.networks); off',
      group: 'Network:',
    })
    .option('backend-tls', {
      type: 'string',
      default: d.backendTls,
      describe:
        'TLS to the backend: off, on (encrypt), verify (encrypt and verify with --backend-ca / --backend-server-name)',
      group: 'Network:',
    })
    .option('backend-ca', {
      type: 'string',
      describe: 'CA for --backend-tls verify (default: the system store)',
      group: 'Network:',
    })
    .option('backend-server-name', {
      type: 'string',
      describe: "Name the backend certificate must carry (default: --backend's host)",
      group: 'Network:',
    })
    .option('client-attrs', {
      type: 'boolean',
      default: d.clientAttrs,
      describe:
        'Add _client_ip, _client_port, _client_tls_version, _client_tls_cipher to connection attributes (--no-client-attrs: off)',
      group: 'Network:',
    })
    .option('backend-probe-interval', {
      type: 'number',
      default: d.backendProbeInterval,
      describe: 'ms between readiness probes of the backend (each a clean login attempt)',
      group: 'Observability:',
    })
    .option('backend-probe-failures', {
      type: 'number',
      default: d.backendProbeFailures,
      describe: 'failed probes in a row before /readyz reports the backend unreachable',
      group: 'Observability:',
    })
    .option('workers', {
      type: 'number',
      default: d.workers,
      describe: 'Processes sharing the listener (0 = one per core); metrics on --status are summed over them',
      group: 'Network:',
    })
    .option('status', {
      type: 'string',
      default: d.status,
      describe: "HTTP HOST:PORT for /metrics /healthz /readyz /ca.pem, or 'off'",
      group: 'Observability:',
    })
    .option('log-level', {
      type: 'string',
      default: d.logLevel,
      describe: 'JSON log level on stdout: fatal, error, warn, info, debug, trace or silent',
      group: 'Observability:',
    })
    .example(
      '$0 serve --backend 127.0.0.1:3306',
      'TLS front door on :4000 for a local MySQL/MariaDB (dev certificates in certs/)',
    )
    .example(
      'MTP_BACKEND=db:4000 $0',
      'the same settings from the environment (MTP_ + flag in upper snake case)',
    )
    .example(
      '$0 --config proxy.json',
      'from a JSON file whose keys are flag names',
    ) as unknown as Argv<RawServeOptions>;
}

/** Bad configuration: exit 2 with one line; a port that cannot be opened: exit 1. */
function startupFailed(error: unknown): void {
  if (error instanceof ConfigError) return usageError(error.message);
  if (error instanceof ListenError) {
    process.stderr.write(`mysql-tls-proxy: ${error.message}\n`);
    process.exitCode = 1;
    return;
  }
  throw error;
}

async function handler(argv: RawServeOptions): Promise<void> {
  let config;
  try {
    config = validateServeConfig(argv);
  } catch (error) {
    if (error instanceof ConfigError) return usageError(error.message);
    throw error;
  }
  const worker = isClusterWorker();
  const logger = worker
    ? createLogger(config.logLevel).child({ worker: process.pid })
    : createLogger(config.logLevel);
  if (!worker && config.workers > 1) {
    await runPrimary(config, config.workers, logger).catch(startupFailed);
    return;
  }
  let proxy;
  try {
    // A worker leaves what must exist once (certificates, status port, probe) to the primary.
    proxy = await startProxy(
      worker ? { ...config, status: undefined, generateIfMissing: false } : config,
      logger,
      { worker },
    );
  } catch (error) {
    logger.flush();
    return startupFailed(error);
  }
  const running = proxy;
  if (worker) serveAsWorker(running);
  else
    announceConnectInfo(
      {
        listenHost: config.listen.host,
        port: running.address.port,
        certPem: running.credentials().cert,
        caFile: running.credentials().ca ? config.caFile : undefined,
      },
      logger,
    );
  process.on('SIGHUP', () => {
    logger.info({ event: 'sighup' }, 'SIGHUP: reloading certificate and key');
    void running.reload('sighup');
    running.reloadAccessList();
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info(
      { event: 'draining', signal, drain_timeout_ms: config.drainTimeoutMs },
      `${signal}: draining connections`,
    );
    void running.stop().then(({ remaining }) => {
      logger.info({ event: 'stopped', closed_at_deadline: remaining }, 'stopped');
      logger.flush();
      setImmediate(() => process.exit(0));
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

export const serveCommand: CommandModule<object, RawServeOptions> = {
  command: ['serve', '$0'],
  describe: 'Run the TLS-terminating proxy (default)',
  builder,
  handler,
};
