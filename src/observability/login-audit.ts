/**
 * What the proxy notes about every login for the TLS adoption audit (docs/tls-adoption-audit.md):
 * who logged in how, into the bounded /clients view; and, for a login the policy let through only
 * because --require-secure-transport=warn, a log line naming user and client address plus the
 * would-be refusal counted in the metrics (whose labels never carry either).
 */
import type { LoginWarning } from '../core/labels';
import type { ClientTransport } from './client-audit';
import type { Logger } from './logger';
import type { ProxyMetrics } from './metrics';

export interface LoginFacts {
  session: number;
  user: string;
  address: string;
  port?: number;
  transport: ClientTransport;
  tlsVersion?: string;
  warning?: LoginWarning;
}

export function recordLogin(
  deps: { metrics: ProxyMetrics; logger: Logger },
  login: LoginFacts,
  now = Date.now(),
): void {
  deps.metrics.clients.record(login, now);
  if (!login.warning) return;
  deps.metrics.connectionsWouldBeRejected.inc({ reason: login.warning.reason });
  deps.logger.warn(
    {
      event: 'insecure_login_allowed',
      session: login.session,
      user: login.user,
      client: { address: login.address, port: login.port },
      transport: login.transport,
      reason: login.warning.reason,
      detail: login.warning.detail,
    },
    `plaintext login by '${login.user}' from ${login.address} relayed (--require-secure-transport=warn)`,
  );
}
