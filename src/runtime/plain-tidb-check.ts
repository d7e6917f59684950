/**
 * TiDB over a plain database leg: warned about once at startup. TiDB takes the clear password
 * at login (caching_sha2_password full authentication answers in clear text; TiDB has no RSA
 * exchange), so with no --backend-tls every password crosses the database leg unencrypted, and the
 * proxy cannot RSA-protect it as it does for MySQL (SECURITY.md). One greeting read at startup,
 * whatever --status says (the readiness probe runs only with a status port); never fatal: a
 * database that is down means no warning, not a failed start.
 */
import { formatBackendAddress } from '../config/backend-address';
import type { ServeConfig } from '../config/serve-config';
import { probeBackend, type ProbeResult, type ProbeTarget } from '../net/backend-probe';
import type { Logger } from '../observability/logger';
import { component, type Component } from './lifecycle';

export const PLAIN_TIDB_EVENT = 'backend_tidb_plain_leg';

export function plainTidbCheck(
  config: ServeConfig,
  logger: Logger,
  probe: (target: ProbeTarget) => Promise<ProbeResult> = probeBackend,
): Component {
  const { backend } = config;
  const start = (): void => {
    if (backend.tls !== 'off') return;
    // Not awaited: the listener does not wait for the database.
    void probe({
      backend: backend.address,
      localAddress: backend.localAddress,
      proxyProtocol: backend.proxyProtocol,
      timeoutMs: backend.connectTimeoutMs,
    }).then(
      (result) => {
        const target = formatBackendAddress(backend.address);
        logger.debug(
          {
            event: 'backend_kind_checked',
            backend: target,
            server_kind: result.serverKind,
            detail: result.detail,
          },
          `startup greeting check: ${result.serverKind ?? 'no greeting'}`,
        );
        if (result.serverKind !== 'tidb') return;
        logger.warn(
          { event: PLAIN_TIDB_EVENT, backend: target },
          `the database at ${target} is TiDB and the database leg is plain (no --backend-tls): TiDB ` +
            `asks for the clear password at login, so passwords cross that leg unencrypted; ` +
            `use --backend-tls verify`,
        );
      },
      () => undefined, // probeBackend resolves; a failure here is nothing to warn about
    );
  };
  return component('TiDB plain-leg check', start, () => undefined);
}
