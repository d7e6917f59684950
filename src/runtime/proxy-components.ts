/**
 * The client-facing half of the proxy as components: the listener (with its TLS terminator and
 * access policy) and the reloaders of certificate and --allow-file. Run by `serve` alone and by
 * each --workers process.
 */
import type { AddressInfo } from 'node:net';
import { ConfigError, ListenError } from '../core/errors';
import { formatHostPort } from '../config/host-port';
import type { ServeConfig } from '../config/serve-config';
import { DEFAULT_HANDSHAKE_OPTIONS } from '../handshake/machine';
import { ProxyServer } from '../net/proxy-server';
import { TlsTerminator } from '../net/tls-terminator';
import type { Logger } from '../observability/logger';
import type { ProxyMetrics } from '../observability/metrics';
import { AccessPolicy } from '../policy/access-policy';
import { AllowFileError } from '../policy/allow-file';
import { startAllowFileReloader, type AllowFileReloader } from '../policy/allow-file-reloader';
import type { LoadedCredentials } from '../tls/credentials';
import { CertificateReloader, type ReloadTrigger } from '../tls/reloader';
import { component, type Component } from './lifecycle';
import { credentialPaths, readConfiguredFile, tlsPolicy } from './tls-setup';

export interface ProxyPart {
  components: Component[];
  server: ProxyServer;
  tls: TlsTerminator;
  /** Once the listener component started. */
  address(): AddressInfo | undefined;
  /** Sessions the drain closed at --drain-timeout. */
  closedAtDeadline(): number;
  credentials(): LoadedCredentials;
  reloadCertificates(trigger: ReloadTrigger): Promise<void>;
  reloadAccessList(): void;
}

function createAccessPolicy(config: ServeConfig): AccessPolicy {
  try {
    return new AccessPolicy({
      allow: config.access.allow,
      allowFile: config.access.allowFile,
      proxyProtocolFrom: config.access.proxyProtocolFrom,
    });
  } catch (error) {
    if (error instanceof AllowFileError) throw new ConfigError(error.message);
    throw error;
  }
}

function createServer(
  config: ServeConfig,
  deps: { logger: Logger; metrics: ProxyMetrics; tls: TlsTerminator; policy: AccessPolicy },
): ProxyServer {
  const { listen, backend, access } = config;
  return new ProxyServer(
    {
      listen: listen.address,
      maxConnections: listen.maxConnections,
      session: {
        backend: backend.address,
        backendLocalAddress: backend.localAddress,
        handshakeTimeoutMs: listen.handshakeTimeoutMs,
        backendConnectTimeoutMs: backend.connectTimeoutMs,
        handshake: {
          ...DEFAULT_HANDSHAKE_OPTIONS,
          requireSecureTransport: access.requireSecureTransport,
          requireClientCertificate: config.tls.clientCa !== undefined,
          backendTls: backend.tls !== 'off',
          clientAttributes: backend.clientAttrs,
        },
        backendTls: {
          mode: backend.tls,
          ca: backend.ca ? readConfiguredFile(backend.ca, '--backend-ca') : undefined,
          serverName: backend.serverName,
        },
        backendProxyProtocol: backend.proxyProtocol,
        proxyProtocolWaitMs: access.proxyProtocolWaitMs,
        logConnections: config.log.connections,
      },
    },
    deps,
  );
}

/** Builds the parts (reading every file: a ConfigError here means nothing started yet). */
export function proxyPart(
  config: ServeConfig,
  initial: LoadedCredentials,
  deps: { logger: Logger; metrics: ProxyMetrics },
): ProxyPart {
  let credentials = initial;
  const clientCa = config.tls.clientCa ? readConfiguredFile(config.tls.clientCa, '--client-ca') : undefined;
  const policy = tlsPolicy(config);
  const tls = new TlsTerminator(
    credentials,
    policy,
    config.listen.handshakeTimeoutMs,
    config.tls.sessionTimeoutS,
    clientCa,
  );
  const access = createAccessPolicy(config);
  const server = createServer(config, { ...deps, tls, policy: access });
  const certificates = new CertificateReloader(
    {
      paths: credentialPaths(config),
      policy,
      logger: deps.logger,
      metrics: deps.metrics,
      apply(next) {
        tls.update(next);
        credentials = next; // what /ca.pem and credentials() return
      },
    },
    credentials,
  );
  let address: AddressInfo | undefined;
  let remaining = 0;
  let accessList: AllowFileReloader | undefined;
  const listener = component(
    'listener',
    async () => {
      address = await server.listen().catch((error: NodeJS.ErrnoException) => {
        const at = formatHostPort(config.listen.address);
        throw new ListenError(`cannot listen on ${at}: ${error.code ?? error.message}`);
      });
    },
    async () => void ({ remaining } = await server.drain(config.listen.drainTimeoutMs)),
  );
  return {
    components: [
      listener,
      component(
        'certificate reloader',
        () =>
          certificates.start({
            watch: config.tls.watch,
            contentCheckMs: config.tls.reloadIntervalS * 1000,
          }),
        () => certificates.close(),
      ),
      component(
        'allow-file reloader',
        () =>
          void (accessList = startAllowFileReloader(access, deps.logger, {
            contentCheckMs: config.access.allowFileReloadIntervalS * 1000,
          })),
        () => accessList?.close(),
      ),
    ],
    server,
    tls,
    address: () => address,
    closedAtDeadline: () => remaining,
    credentials: () => credentials,
    reloadCertificates: async (trigger) => void (await certificates.reload(trigger)),
    reloadAccessList: () => accessList?.reload('sighup'),
  };
}
