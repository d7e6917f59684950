import { formatPretty, prettyDestination, resolveLogFormat } from '../../../src/observability/log-format';
import { logsConnectionClose } from '../../../src/observability/connection-log';
import { CLOSE_REASONS, rejectionFor } from '../../../src/handshake/close-reason';

const line = (fields: Record<string, unknown>) =>
  `${JSON.stringify({ level: 'info', time: '2026-12-01T10:00:00.000Z', service: 'mysql-tls-proxy', ...fields })}\n`;

describe('resolveLogFormat', () => {
  it('auto is pretty on a terminal and JSON otherwise; explicit choices win', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });
});

describe('formatPretty', () => {
  it('puts time, level and message first, then the fields flattened, one line', () => {
    const text = formatPretty(
      line({
        event: 'connection_closed',
        msg: 'connection closed: client_quit',
        client: { address: '127.0.0.1', port: 5000 },
        tls_version: 'TLSv1.3',
        detail: 'two words',
        sans: ['DNS:a', 'IP:1.2.3.4'],
      }),
    );
    expect(text).toBe(
      '2026-12-01T10:00:00.000Z INFO  connection closed: client_quit  event=connection_closed ' +
        'client.address=127.0.0.1 client.port=5000 tls_version=TLSv1.3 detail="two words" sans=DNS:a,IP:1.2.3.4\n',
    );
  });

  it('prints an error stack indented below the line, and colours only when asked', () => {
    const text = formatPretty(
      line({
        level: 'error',
        msg: 'boom',
        err: { type: 'Error', message: 'bad', stack: 'Error: bad\n    at x' },
      }),
    );
    expect(text.split('\n')).toEqual([
      '2026-12-01T10:00:00.000Z ERROR boom  err.type=Error err.message=bad',
      '    Error: bad',
      '        at x',
      '',
    ]);
    expect(text).not.toContain('\x1b[');
    expect(formatPretty(line({ level: 'warn', msg: 'w' }), { color: true })).toContain('\x1b[33mWARN ');
  });

  it('passes a line that is not JSON through unchanged', () => {
    expect(formatPretty('not json\n')).toBe('not json\n');
  });

  it('wraps a destination', () => {
    const written: string[] = [];
    const destination = prettyDestination({ write: (text: string) => written.push(text) });
    destination.write(line({ msg: 'hello' }));
    expect(written).toEqual(['2026-12-01T10:00:00.000Z INFO  hello\n']);
  });
});

describe('logsConnectionClose (--log-connections)', () => {
  it('all logs every reason, none no reason', () => {
    for (const reason of CLOSE_REASONS) {
      expect(logsConnectionClose('all', reason)).toBe(true);
      expect(logsConnectionClose(undefined, reason)).toBe(true);
      expect(logsConnectionClose('none', reason)).toBe(false);
    }
  });

  it('errors keeps every refusal and failure, and drops only the ordinary ends', () => {
    const dropped = CLOSE_REASONS.filter((reason) => !logsConnectionClose('errors', reason));
    expect(dropped.sort()).toEqual(['backend_closed', 'client_closed', 'client_quit']);
    for (const reason of CLOSE_REASONS) {
      if (rejectionFor(reason)) expect(logsConnectionClose('errors', reason)).toBe(true);
    }
  });
});
