import net from 'node:net';
import { formatHostPort, type HostPort } from '../config/host-port';
import { ListenError } from '../core/errors';

/**
 * --workers: the primary binds the client address once and lets it go before forking, so a busy
 * or forbidden port fails in milliseconds with the single-process message instead of after N
 * worker processes have booted. A port taken between this check and the workers' listen is still
 * reported (by the first worker that fails), only later.
 */
export function checkListenAddress(address: HostPort): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(new ListenError(`cannot listen on ${formatHostPort(address)}: ${error.code ?? error.message}`)),
    );
    probe.listen({ host: address.host, port: address.port, exclusive: true }, () =>
      probe.close(() => resolve()),
    );
  });
}
