import fc from 'fast-check';
import { COM_CHANGE_USER, CommandScanner, type ScanResult } from '../../../src/protocol/command-scanner';
import { encodePacket } from '../../../src/protocol/packet';

const p = (bytes: number[] | Buffer | string, seq: number) =>
  encodePacket(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes), seq);
const query = (sql: string) => p(`\x03${sql}`, 0);
const changeUser = p(Buffer.concat([Buffer.from([COM_CHANGE_USER]), Buffer.from('bob\0\0\0')]), 0);
const OK = (seq: number, status = 0x0002) => p([0x00, 0x00, 0x00, status & 0xff, status >> 8, 0, 0], seq);
const EOF = (seq: number, status = 0x0002) => p([0xfe, 0, 0, status & 0xff, status >> 8], seq);
const OK_FE = (seq: number, status = 0x0002) => p([0xfe, 0x00, 0x00, status & 0xff, status >> 8, 0, 0], seq);
const ERR = (seq: number) =>
  p(Buffer.concat([Buffer.from([0xff, 0x28, 0x04]), Buffer.from('#42S02oops')]), seq);
const columnCount = (n: number, seq: number, metadata?: number) =>
  p(metadata === undefined ? [n] : [n, metadata], seq);
const columnDef = (seq: number) =>
  p(Buffer.concat([Buffer.from([3]), Buffer.from('def'), Buffer.alloc(20, 1)]), seq);
const row = (seq: number, first = 0x01) => p([first, 0x31, 0x01, 0x32], seq);
const MORE = 0x0008 | 0x0002;
const CURSOR = 0x0040 | 0x0002;

type Event = { client: Buffer } | { server: Buffer };

/**
 * Feeds events the way the session does (held client bytes first; a waiting COM_CHANGE_USER is
 * scanned again when the server goes idle) and reports where a COM_CHANGE_USER was handed over,
 * counting client bytes forwarded before it.
 */
function run(events: Event[], deprecateEof = false, scanner = new CommandScanner({ deprecateEof })) {
  let held = Buffer.alloc(0);
  let forwarded = 0;
  let waited = false;
  const scan = (chunk: Buffer): ScanResult => {
    const data = Buffer.concat([held, chunk]);
    const result = scanner.scan(data);
    forwarded += result.until;
    held = Buffer.from(data.subarray(result.until));
    return result;
  };
  for (const event of events) {
    if ('server' in event) {
      scanner.observeServer(event.server);
      if (waited && (scanner.idle || scanner.isLost) && scan(Buffer.alloc(0)).status === 'found') {
        return { forwarded, found: true, waited, scanner };
      }
      continue;
    }
    const { status } = scan(event.client);
    if (status === 'found') return { forwarded, found: true, waited, scanner };
    if (status === 'wait') waited = true;
  }
  return { forwarded, found: false, waited, scanner };
}

const bytes = (...buffers: Buffer[]) => Buffer.concat(buffers);

describe('CommandScanner, the client direction', () => {
  it('hands over a COM_CHANGE_USER that comes when the server is idle, forwarding what precedes it', () => {
    const first = query('SELECT 1');
    const result = run([
      { client: first },
      { server: bytes(columnCount(1, 1), columnDef(2), EOF(3), row(4, 0x11), EOF(5)) },
      { client: bytes(query('DO 1'), changeUser) },
      { server: OK(1) },
    ]);
    // the second query is still unanswered when the COM_CHANGE_USER comes: it waits for the OK
    expect(result).toMatchObject({
      found: true,
      waited: true,
      forwarded: first.length + query('DO 1').length,
    });
  });

  it('hands it over at every split point, never forwarding a byte of it', () => {
    const stream = bytes(p([0x19, 1, 0, 0, 0], 0), changeUser); // COM_STMT_CLOSE has no answer
    for (let split = 0; split <= stream.length; split++) {
      const result = run([{ client: stream.subarray(0, split) }, { client: stream.subarray(split) }]);
      expect(result).toMatchObject({ found: true, forwarded: 9 });
    }
    expect(run([...stream].map((b) => ({ client: Buffer.from([b]) })))).toMatchObject({
      found: true,
      forwarded: 9,
    });
  });

  it('LOAD DATA LOCAL: file packets that wrap to sequence id 0 and start with 0x11 are not commands', () => {
    const packets: Buffer[] = [];
    for (let i = 0; i < 600; i++) packets.push(p(Buffer.alloc(10, 0x11), (i + 2) & 0xff)); // ids 2..255, 0, 1, ...
    const upload = bytes(...packets, p([], (600 + 2) & 0xff));
    const result = run([
      { client: query("LOAD DATA LOCAL INFILE 'f' INTO TABLE t") },
      { server: p(Buffer.from('\xfbf', 'latin1'), 1) },
      { client: upload.subarray(0, 777) },
      { client: upload.subarray(777) },
    ]);
    expect(result.found).toBe(false);
    expect(result.waited).toBe(false);
    expect(result.forwarded).toBe(query("LOAD DATA LOCAL INFILE 'f' INTO TABLE t").length + upload.length);
    // the server answers the file with an OK; then the session is idle again
    expect(run([{ server: OK(3) }, { client: changeUser }], false, result.scanner)).toMatchObject({
      found: true,
    });
  });

  it('packets continuing a 16 MiB one are not commands, even with sequence id 0 and 0x11', () => {
    const big = Buffer.alloc(0xffffff, 0x61);
    big[0] = 0x03;
    const continued = p(Buffer.from([0x11, 0x11]), 0); // as if the id had wrapped
    const result = run([{ client: bytes(encodePacket(big, 0), continued) }]);
    expect(result).toMatchObject({ found: false, waited: false });
    expect(run([{ server: OK(1) }, { client: changeUser }], false, result.scanner)).toMatchObject({
      found: true,
    });
  });

  it('commands the server does not answer leave it idle; a pipelined COM_CHANGE_USER waits for the rest', () => {
    const sendLongData = p([0x18, 1, 0, 0, 0, 0, 0, 0x41], 0);
    expect(run([{ client: bytes(sendLongData, changeUser) }])).toMatchObject({ found: true, waited: false });
    const pipelined = run([{ client: bytes(p([0x0e], 0), p([0x0e], 0), changeUser) }, { server: OK(1) }]);
    expect(pipelined).toMatchObject({ found: false, waited: true });
    expect(run([{ server: OK(1) }], false, pipelined.scanner)).toMatchObject({ found: false });
  });
});

describe('CommandScanner, following responses to the end', () => {
  /** After `response`, the server must be idle, and not before its last byte (split anywhere). */
  function expectEnds(request: Buffer, response: Buffer, deprecateEof = false): void {
    const splits =
      response.length < 2000
        ? [...response.keys()]
        : [0, 1, 5, Math.floor(response.length / 2), response.length - 1];
    for (const split of splits) {
      const scanner = new CommandScanner({ deprecateEof });
      expect(scanner.scan(request).status).toBe('more');
      expect(scanner.idle).toBe(false);
      scanner.observeServer(response.subarray(0, split));
      expect(scanner.idle).toBe(false);
      scanner.observeServer(response.subarray(split));
      expect(scanner.isLost).toBe(false);
      expect(scanner.idle).toBe(true);
    }
  }

  it('OK, ERR', () => {
    expectEnds(query('DO 1'), OK(1));
    expectEnds(query('DO x'), ERR(1));
  });

  it('a text result set with EOFs, rows starting with NULL (0xfb) and a long lenenc (0xfe)', () => {
    const longRow = p(Buffer.concat([Buffer.from([0xfc, 0x00, 0x01]), Buffer.alloc(256, 0x62)]), 6);
    expectEnds(
      query('SELECT'),
      bytes(columnCount(2, 1), columnDef(2), columnDef(3), EOF(4), row(5, 0xfb), longRow, EOF(7)),
    );
  });

  it('the same with CLIENT_DEPRECATE_EOF: no EOF after the columns, an OK (0xfe) at the end', () => {
    expectEnds(query('SELECT'), bytes(columnCount(1, 1), columnDef(2), row(3), row(4), OK_FE(5)), true);
    expectEnds(query('SELECT'), bytes(columnCount(1, 1), columnDef(2), OK_FE(3)), true); // no rows
  });

  it('column definitions left out (MySQL resultset_metadata=NONE, MariaDB metadata cache)', () => {
    expectEnds(query('SELECT'), bytes(columnCount(2, 1, 0), row(2), OK_FE(3)), true);
    expectEnds(query('SELECT'), bytes(columnCount(1, 1, 1), columnDef(2), row(3), OK_FE(4)), true);
  });

  it('rows over 16 MiB: a continuation starting 0xfe is not the end', () => {
    const big = Buffer.alloc(0xffffff, 0x61);
    big[0] = 0xfe;
    const continuation = p([0xfe, 0, 0, 2, 0], 5);
    expectEnds(
      query('SELECT'),
      bytes(columnCount(1, 1), columnDef(2), EOF(3), encodePacket(big, 4), continuation, EOF(6)),
    );
  });

  it('multi-statements and procedures: results flagged SERVER_MORE_RESULTS_EXISTS, an ERR ends all', () => {
    const set = (first: number, status: number) => [
      columnCount(1, first),
      columnDef(first + 1),
      EOF(first + 2),
      row(first + 3),
      EOF(first + 4, status),
    ];
    expectEnds(query('CALL p()'), bytes(...set(1, MORE), ...set(6, MORE), OK(11)));
    expectEnds(query('SELECT 1; DO 2; SELECT 3'), bytes(...set(1, MORE), OK(6, MORE), ...set(7, 2)));
    expectEnds(query('SELECT 1; SELECT x'), bytes(...set(1, MORE), ERR(6)));
    expectEnds(query('SELECT'), bytes(columnCount(1, 1), columnDef(2), EOF(3), row(4), ERR(5)));
  });

  it('LOAD DATA LOCAL: the OK comes after the client has sent its file', () => {
    const scanner = new CommandScanner({ deprecateEof: false });
    scanner.scan(query('LOAD DATA LOCAL INFILE'));
    scanner.observeServer(p(Buffer.from('\xfbf', 'latin1'), 1));
    expect(scanner.idle).toBe(false);
    scanner.scan(bytes(p('a,b\n', 2), p([], 3)));
    expect(scanner.idle).toBe(false);
    scanner.observeServer(OK(4));
    expect(scanner.idle).toBe(true);
  });

  it('prepared statements: COM_STMT_PREPARE, COM_STMT_EXECUTE (binary rows, cursors), COM_STMT_FETCH', () => {
    const prepareOk = (columns: number, params: number, extra: number[] = []) =>
      p([0x00, 1, 0, 0, 0, columns, 0, params, 0, 0, 0, 0, ...extra], 1);
    const prepare = p('\x16SELECT ?', 0);
    expectEnds(prepare, bytes(prepareOk(1, 2), columnDef(2), columnDef(3), EOF(4), columnDef(5), EOF(6)));
    expectEnds(prepare, bytes(prepareOk(1, 2), columnDef(2), columnDef(3), columnDef(4)), true);
    expectEnds(prepare, prepareOk(0, 0));
    expectEnds(prepare, prepareOk(3, 3, [0]), true); // MySQL: no metadata
    expectEnds(prepare, ERR(1));
    const execute = p([0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0], 0);
    expectEnds(execute, bytes(columnCount(1, 1), columnDef(2), EOF(3), row(4, 0x00), EOF(5)));
    expectEnds(execute, OK(1));
    // a cursor: the metadata ends with CURSOR_EXISTS, rows come with COM_STMT_FETCH
    expectEnds(execute, bytes(columnCount(1, 1), columnDef(2), EOF(3, CURSOR)));
    expectEnds(execute, bytes(columnCount(1, 1), columnDef(2), OK_FE(3, CURSOR)), true);
    expectEnds(p([0x1c, 1, 0, 0, 0, 5, 0, 0, 0], 0), bytes(row(1, 0x00), row(2, 0x00), EOF(3, 0x0080)));
  });

  it('COM_FIELD_LIST and COM_STATISTICS', () => {
    expectEnds(p('\x04t\0', 0), bytes(columnDef(1), columnDef(2), EOF(3)));
    expectEnds(p([0x09], 0), p('Uptime: 1  Threads: 1', 1));
  });
});

describe('CommandScanner, when it cannot follow', () => {
  it('an unsolicited ERR while idle (an idle-timeout notice) changes nothing', () => {
    const result = run([{ server: ERR(0) }, { client: changeUser }]);
    expect(result).toMatchObject({ found: true });
    expect(result.scanner.isLost).toBe(false);
  });

  it('anything else it cannot place: it is lost and hands a COM_CHANGE_USER over as the framing shows it', () => {
    const lost = run([{ client: query('SELECT') }, { server: bytes(columnCount(1, 1), p('garbage', 2)) }]);
    expect(lost.scanner.isLost).toBe(true);
    expect(run([{ client: changeUser }], false, lost.scanner)).toMatchObject({ found: true });
    const dump = run([{ client: p([0x12, 4, 0, 0, 0, 0, 0], 0) }, { client: changeUser }]);
    expect(dump).toMatchObject({ found: true }); // a binlog stream: not followed
  });

  it('lost, it still tells LOAD DATA LOCAL file packets from commands by their sequence ids', () => {
    const scanner = new CommandScanner({ deprecateEof: false });
    scanner.observeServer(p('garbage', 3));
    expect(scanner.isLost).toBe(true);
    const packets = Array.from({ length: 300 }, (_, i) => p(Buffer.alloc(4, 0x11), (i + 2) & 0xff));
    const result = run(
      [{ client: bytes(query('LOAD DATA LOCAL'), ...packets, p([], 46)) }, { client: changeUser }],
      false,
      scanner,
    );
    expect(result).toMatchObject({
      found: true,
      forwarded: bytes(query('LOAD DATA LOCAL'), ...packets, p([], 46)).length,
    });
  });

  it('any bytes from the server, split anyhow, never throw', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(0x03, 0x16, 0x17, 0x04, 0x09, 0x1c, 0x0e), { maxLength: 4 }),
        fc.uint8Array({ maxLength: 400 }),
        fc.array(fc.nat({ max: 400 }), { maxLength: 5 }),
        fc.boolean(),
        (commands, server, cuts, deprecateEof) => {
          const scanner = new CommandScanner({ deprecateEof });
          for (const command of commands) scanner.scan(p([command, 1], 0));
          const data = Buffer.from(server);
          let last = 0;
          for (const cut of [...cuts.map((c) => c % (data.length + 1))].sort((a, b) => a - b)) {
            scanner.observeServer(data.subarray(last, cut));
            last = cut;
          }
          scanner.observeServer(data.subarray(last));
          expect(typeof scanner.idle).toBe('boolean');
        },
      ),
      { numRuns: 2000 },
    );
  });
});
