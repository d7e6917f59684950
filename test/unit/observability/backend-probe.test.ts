import net from 'node:net';
import { BackendProbe, probeBackend, type ProbeResult } from '../../../src/net/backend-probe';
import { ABORTED_LOGIN_USER } from '../../../src/handshake/placeholder-login';
import { ProxyMetrics } from '../../../src/observability/metrics';
import { encodeErrPacket } from '../../../src/protocol/err-packet';
import { encodeGreeting } from '../../../src/protocol/greeting';
import { encodePacket, parsePacketHeader } from '../../../src/protocol/packet';
import { Capability } from '../../../src/protocol/capabilities';
import { encodeProxyV2Local } from '../../../src/protocol/proxy-protocol';

/** A scripted database: answers each client packet with the next reply, records what it got. */
async function fakeDatabase(
  first: Buffer,
  replies: Array<(seq: number) => Buffer>,
): Promise<{ port: number; received: Buffer[]; ended: Promise<'end' | 'reset'>; close(): void }> {
  const received: Buffer[] = [];
  let resolveEnded!: (how: 'end' | 'reset') => void;
  const ended = new Promise<'end' | 'reset'>((resolve) => (resolveEnded = resolve));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.write(first);
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const header = parsePacketHeader(buffer);
        if (!header || buffer.length < 4 + header.length) return;
        received.push(buffer.subarray(0, 4 + header.length));
        buffer = buffer.subarray(4 + header.length);
        const reply = replies.shift();
        if (reply) socket.write(reply(header.sequenceId + 1));
      }
    });
    socket.on('end', () => {
      resolveEnded('end');
      socket.end();
    });
    socket.on('error', () => resolveEnded('reset'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    ended,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

const greeting = (plugin: string) =>
  encodePacket(
    encodeGreeting({
      protocolVersion: 10,
      serverVersion: '8.0.11-TiDB-v8.5.0',
      connectionId: 7,
      authPluginData: Buffer.alloc(20, 1),
      capabilities:
        Capability.LONG_PASSWORD |
        Capability.PROTOCOL_41 |
        Capability.SECURE_CONNECTION |
        Capability.PLUGIN_AUTH,
      characterSet: 0x21,
      statusFlags: 2,
      reserved: Buffer.alloc(10),
      authPluginName: plugin,
    }),
    0,
  );
const err = (code: number, message: string) => (seq: number) =>
  encodePacket(encodeErrPacket({ code, sqlState: '28000', message }), seq);

describe('probeBackend', () => {
  it('logs in as the placeholder user, answers an auth switch, and ends after the ERR', async () => {
    const db = await fakeDatabase(greeting('mysql_native_password'), [
      (seq) =>
        encodePacket(
          Buffer.concat([Buffer.from([0xfe]), Buffer.from('client_ed25519\0'), Buffer.alloc(32)]),
          seq,
        ),
      err(1045, "Access denied for user '_mysql_tls_proxy_aborted'"),
    ]);
    try {
      const result = await probeBackend({ backend: { host: '127.0.0.1', port: db.port }, timeoutMs: 2000 });
      expect(result).toMatchObject({
        ok: true,
        detail: expect.stringMatching(/^login answered with ERR 1045/),
      });
      expect(await db.ended).toBe('end'); // an orderly close, not a reset
      expect(db.received).toHaveLength(2);
      expect(db.received[0][3]).toBe(1); // HandshakeResponse after the greeting (seq 0)
      expect(db.received[0].includes(Buffer.from(ABORTED_LOGIN_USER))).toBe(true);
      expect(db.received[1][3]).toBe(3);
      expect(db.received[1].length - 4).toBe(64); // ed25519 signature length
    } finally {
      db.close();
    }
  });

  it('starts with a PROXY v2 LOCAL header when the database expects PROXY protocol', async () => {
    let first: Buffer | undefined;
    const server = net.createServer((socket) => {
      socket.once('data', (chunk) => {
        first = chunk;
        socket.destroy();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const result = await probeBackend({
        backend: { host: '127.0.0.1', port },
        timeoutMs: 1000,
        proxyProtocol: 'v2',
      });
      expect(result.ok).toBe(false); // closed before a greeting
      expect(first?.subarray(0, 16)).toEqual(encodeProxyV2Local());
    } finally {
      server.close();
    }
  });

  it('counts a refusal instead of a greeting as a failure', async () => {
    const db = await fakeDatabase(
      encodePacket(encodeErrPacket({ code: 1129, message: "Host '10.0.0.1' is blocked" }), 0),
      [],
    );
    try {
      const result = await probeBackend({ backend: { host: '127.0.0.1', port: db.port }, timeoutMs: 2000 });
      expect(result).toMatchObject({ ok: false, detail: expect.stringMatching(/refused.*1129/) });
    } finally {
      db.close();
    }
  });

  it('times out on a server that never greets', async () => {
    const db = await fakeDatabase(Buffer.alloc(0), []);
    try {
      const result = await probeBackend({ backend: { host: '127.0.0.1', port: db.port }, timeoutMs: 200 });
      expect(result).toMatchObject({ ok: false, detail: 'no greeting within 200 ms' });
    } finally {
      db.close();
    }
  });

  it('fails on something that is not MySQL', async () => {
    const db = await fakeDatabase(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'), []);
    try {
      const result = await probeBackend({ backend: { host: '127.0.0.1', port: db.port }, timeoutMs: 1000 });
      expect(result.ok).toBe(false);
    } finally {
      db.close();
    }
  });
});

describe('BackendProbe', () => {
  const target = { backend: { host: '127.0.0.1', port: 3306 }, timeoutMs: 100, intervalMs: 10_000 };
  const scripted = (outcomes: boolean[]) => {
    return async (): Promise<ProbeResult> => {
      const ok = outcomes.shift() ?? true;
      return { ok, detail: ok ? 'login answered with ERR 1045' : 'ECONNREFUSED', durationMs: 1 };
    };
  };

  it('turns unreachable after N consecutive failures and reachable after one success', async () => {
    const metrics = new ProxyMetrics({ processMetrics: false });
    const probe = new BackendProbe(
      { ...target, failureThreshold: 3 },
      { metrics, probe: scripted([false, false, true, false, false, false, false, true]) },
    );
    const states: boolean[] = [];
    const gauge: number[] = [];
    for (let i = 0; i < 8; i++) {
      await probe.probeOnce();
      states.push(probe.health.reachable);
      gauge.push((await metrics.backendUp.get()).values[0].value);
    }
    expect(states).toEqual([true, true, true, true, true, false, false, true]);
    expect(gauge).toEqual([1, 1, 1, 1, 1, 0, 0, 1]);
    expect(probe.health.consecutiveFailures).toBe(0);
  });

  it('probes at start and then every interval, one at a time, until stopped', async () => {
    jest.useFakeTimers();
    try {
      let calls = 0;
      const probe = new BackendProbe(
        { ...target, intervalMs: 1000, failureThreshold: 3 },
        {
          probe: async () => {
            calls++;
            return { ok: false, detail: 'ECONNREFUSED', durationMs: 0 };
          },
        },
      );
      probe.start();
      await jest.advanceTimersByTimeAsync(0);
      expect(calls).toBe(1);
      await jest.advanceTimersByTimeAsync(2000);
      expect(calls).toBe(3);
      expect(probe.health.reachable).toBe(false);
      await probe.stop();
      await jest.advanceTimersByTimeAsync(5000);
      expect(calls).toBe(3);
    } finally {
      jest.useRealTimers();
    }
  });
});
