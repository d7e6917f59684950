import path from 'node:path';
import type { Logger } from '../observability/logger';
import {
  chooseHost,
  connectExamples,
  startupConnectBlock,
  type ConnectTarget,
} from '../docs/connect-examples';

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
