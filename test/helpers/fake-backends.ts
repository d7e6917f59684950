/**
 * Scripted "databases" for faults a real server cannot produce on demand: a server that accepts
 * and never greets, one that dies half way through its greeting, one that answers with garbage.
 * Each is a plain TCP server on 127.0.0.1:0 that runs one script per accepted socket and keeps
 * track of its sockets, so a test can check that the proxy closed its side too.
 *
 * The proxy's readiness probe connects to the backend as well (right after startup, then every
 * --backend-probe-interval); scripts must not care which connection is a probe, and tests should
 * look at "sockets accepted after the client connected" or wait for all sockets to close.
 */
import * as net from 'net';
import { loadFixture } from './fixtures';

export type FakeScript = (socket: net.Socket) => void;

export interface FakeBackend {
  port: number;
  /** Sockets accepted so far (including the proxy's readiness probes). */
  readonly accepted: number;
  /** Sockets still open on the fake's side. */
  readonly open: number;
  /** Resolves once every accepted socket is closed (rejects after the timeout). */
  allClosed(timeoutMs?: number): Promise<void>;
  /** Resolves once `count` sockets have been accepted in total. */
  waitForAccepted(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A real MariaDB 10.11 greeting (captured), header included: 4 + 100 bytes. */
export const REAL_GREETING = loadFixture('mariadb-greeting').packets[0];

export async function startFakeBackend(script: FakeScript): Promise<FakeBackend> {
  const sockets = new Set<net.Socket>();
  const changed: Array<() => void> = [];
  let accepted = 0;
  const notify = () => changed.splice(0).forEach((wake) => wake());
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined); // resets from the proxy are expected
    socket.on('close', () => {
      sockets.delete(socket);
      notify();
    });
    notify();
    script(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;

  const until = (done: () => boolean, timeoutMs: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`fake backend: ${what} (open: ${sockets.size})`)),
        timeoutMs,
      );
      const check = () => {
        if (done()) {
          clearTimeout(timer);
          resolve();
        } else changed.push(check);
      };
      check();
    });

  return {
    port,
    get accepted() {
      return accepted;
    },
    get open() {
      return sockets.size;
    },
    allClosed: (timeoutMs = 5_000) => until(() => sockets.size === 0, timeoutMs, 'sockets still open'),
    waitForAccepted: (count, timeoutMs = 5_000) =>
      until(() => accepted >= count, timeoutMs, `fewer than ${count} sockets accepted`),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Scripts for the faults the hardening tests need. */
export const fakeScripts = {
  /** Accepts and never says a word (a hung database, a firewall that half-opens). */
  silent: (): FakeScript => () => undefined,

  /** The first `bytes` of a real greeting, then FIN. */
  halfGreetingThenClose:
    (bytes = 40): FakeScript =>
    (socket) =>
      socket.end(REAL_GREETING.subarray(0, bytes)),

  /** The first `bytes` of a real greeting, then RST (a crashed host, a killed connection). */
  halfGreetingThenReset:
    (bytes = 40): FakeScript =>
    (socket) =>
      socket.write(REAL_GREETING.subarray(0, bytes), () => setTimeout(() => socket.resetAndDestroy(), 20)),

  /** Something that is not the MySQL protocol at all (an HTTP server on the wrong port). */
  garbage: (): FakeScript => (socket) =>
    socket.write('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'),

  /** A packet header announcing 16 MiB - 1 where the greeting should be, then nothing. */
  oversizedGreeting: (): FakeScript => (socket) => socket.write(Buffer.from([0xff, 0xff, 0xff, 0x00, 0x0a])),
};
