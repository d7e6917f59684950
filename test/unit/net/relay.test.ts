/**
 * The command-phase relay over in-memory socket pairs: zero-parse piping, the watched relay's
 * header scanning and backpressure, and the COM_CHANGE_USER hand-over (held until the database
 * has answered what came before it).
 */
import type { CloseReason } from '../../../src/core/labels';
import { Relay, type RelayListener } from '../../../src/net/relay';
import { encodePacket } from '../../../src/protocol/packet';
import { MemorySocket } from '../../helpers/memory-socket';

const OK = encodePacket(Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]), 1);
const ping = encodePacket(Buffer.from([0x0e]), 0);
const changeUser = encodePacket(Buffer.from('\x11bob\0\0test\0'), 0);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

function setup(watch: boolean, highWaterMark = 4096) {
  const [client, proxyClientSide] = MemorySocket.pair(undefined, undefined, highWaterMark);
  const [proxyBackendSide, db] = MemorySocket.pair(undefined, undefined, highWaterMark);
  const ended: Array<[CloseReason, string]> = [];
  const handedOver: Buffer[] = [];
  const listener: RelayListener = {
    relayEnded: (reason, detail) => ended.push([reason, detail]),
    changeUser: (command) => handedOver.push(Buffer.from(command)),
  };
  const relay = new Relay(proxyClientSide, proxyBackendSide, listener);
  relay.start(Buffer.alloc(0), Buffer.alloc(0), watch ? { deprecateEof: false } : undefined);
  const atDb: Buffer[] = [];
  const atClient: Buffer[] = [];
  db.on('data', (chunk: Buffer) => atDb.push(chunk));
  client.on('data', (chunk: Buffer) => atClient.push(chunk));
  return {
    client,
    db,
    relay,
    ended,
    handedOver,
    atDb: () => Buffer.concat(atDb),
    atClient: () => Buffer.concat(atClient),
  };
}

/** Writes `total` bytes in 1 KiB chunks, honouring 'drain'; returns how many were taken before a stall. */
async function writeUntilStalled(socket: MemorySocket, total: number, sent: Buffer[]): Promise<boolean> {
  for (let i = 0; sent.length * 1024 < total; i++) {
    sent.push(Buffer.alloc(1024, i & 0xff));
    if (socket.write(sent[sent.length - 1])) continue;
    const drained = new Promise<boolean>((resolve) => socket.once('drain', () => resolve(true)));
    if (!(await Promise.race([drained, sleep(100).then(() => false)]))) return true;
  }
  return false;
}

describe.each([
  ['unwatched (pipe)', false],
  ['watched (header scanner)', true],
])('Relay, %s', (_name, watch) => {
  it('carries bytes both ways unchanged', async () => {
    const r = setup(watch);
    r.client.write(ping);
    await until(() => r.atDb().equals(ping), 'ping at the database');
    r.db.write(OK);
    await until(() => r.atClient().equals(OK), 'OK at the client');
  });

  it('stalls a client that sends faster than the database reads, and loses nothing', async () => {
    const r = setup(watch);
    r.db.pause();
    r.db.removeAllListeners('data');
    // One 1 MiB COM_QUERY: the scanner passes its bytes as they come.
    const header = Buffer.from([0xff, 0xff, 0x0f, 0x00, 0x03]);
    r.client.write(header);
    const sent: Buffer[] = [header];
    expect(await writeUntilStalled(r.client, (1 << 20) - 1, sent)).toBe(true);
    expect(sent.length).toBeLessThan(64); // the high-water marks along the way, not the megabyte
    await sleep(200);
    expect(r.client.writableLength).toBeGreaterThan(0); // still held back: the proxy stopped reading
    const received: Buffer[] = [];
    r.db.on('data', (chunk: Buffer) => received.push(chunk));
    r.db.resume();
    await until(() => Buffer.concat(received).length === Buffer.concat(sent).length, 'everything');
    expect(Buffer.concat(received)).toEqual(Buffer.concat(sent));
  });

  it('ends the other side and says whose doing it was: COM_QUIT then the database closing is client_quit', async () => {
    const r = setup(watch);
    r.client.write(encodePacket(Buffer.from([0x01]), 0));
    await until(() => r.atDb().length === 5, 'COM_QUIT at the database');
    r.db.end();
    await until(() => r.ended.length > 0, 'the relay ended');
    expect(r.ended[0][0]).toBe('client_quit');
    await until(() => r.client.readableEnded, 'the client sees the end');
  });

  it('a client that ends is client_closed, and the database leg is ended', async () => {
    const r = setup(watch);
    r.client.end();
    await until(() => r.ended.length > 0, 'the relay ended');
    expect(r.ended[0][0]).toBe('client_closed');
    await until(() => r.db.readableEnded, 'the database sees the end');
  });
});

describe('Relay, watched: COM_CHANGE_USER', () => {
  it('is handed over, not relayed, when the database is idle', async () => {
    const r = setup(true);
    r.client.write(changeUser);
    await until(() => r.handedOver.length === 1, 'hand-over');
    expect(r.handedOver[0]).toEqual(changeUser);
    await sleep(10);
    expect(r.atDb().length).toBe(0);
  });

  it('waits behind a command the database has not answered yet, relaying that command first', async () => {
    const r = setup(true);
    r.client.write(Buffer.concat([ping, changeUser]));
    await until(() => r.atDb().equals(ping), 'ping at the database');
    await sleep(10);
    expect(r.handedOver).toHaveLength(0);
    r.db.write(OK);
    await until(() => r.handedOver.length === 1, 'hand-over after the OK');
    expect(r.handedOver[0]).toEqual(changeUser);
    expect(r.atClient()).toEqual(OK);
    expect(r.atDb()).toEqual(ping);
  });

  it('is relayed like any bytes by an unwatched relay (zero-parse)', async () => {
    const r = setup(false);
    r.client.write(changeUser);
    await until(() => r.atDb().equals(changeUser), 'relayed');
    expect(r.handedOver).toHaveLength(0);
  });
});
