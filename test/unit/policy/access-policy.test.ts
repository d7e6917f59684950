import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AccessPolicy } from '../../../src/policy/access-policy';
import { AllowFileError, parseAllowFile } from '../../../src/policy/allow-file';
import { Allowlist } from '../../../src/policy/allowlist';
import { parseCidr, parseCidrList } from '../../../src/policy/cidr';
import { ConfigError } from '../../../src/config/errors';

describe('CIDRs', () => {
  it.each([
    ['10.0.0.0/8', { address: '10.0.0.0', prefix: 8, family: 'ipv4' }],
    ['192.0.2.7', { address: '192.0.2.7', prefix: 32, family: 'ipv4' }],
    ['2001:db8::/32', { address: '2001:db8::', prefix: 32, family: 'ipv6' }],
    ['::1', { address: '::1', prefix: 128, family: 'ipv6' }],
  ])('parses %s', (text, expected) => expect(parseCidr(text)).toEqual(expected));

  it.each(['10.0.0.0/33', '10.0.0/8', 'example.com', '::1/129', '10.0.0.0/8/1', '10.0.0.0/x', ''])(
    'refuses %j',
    (text) => {
      expect(parseCidr(text)).toBeUndefined();
    },
  );

  it('names the bad entry in a configuration error', () => {
    expect(() => parseCidrList(['127.0.0.1/32', 'nope'], '--allow')).toThrow(
      new ConfigError("--allow: 'nope' is not a valid CIDR (e.g. 10.0.0.0/8, 2001:db8::/32)"),
    );
  });
});

describe('Allowlist', () => {
  const list = new Allowlist(parseCidrList(['10.0.0.0/8', '127.0.0.1/32', '2001:db8::/32'], 'test'));
  it.each([
    ['10.1.2.3', true],
    ['::ffff:10.1.2.3', true], // IPv4-mapped peers match IPv4 rules
    ['127.0.0.1', true],
    ['127.0.0.2', false],
    ['::ffff:127.0.0.2', false],
    ['11.0.0.1', false],
    ['2001:db8::5', true],
    ['2001:db9::5', false],
    ['not-an-ip', false],
  ])('%s -> %s', (address, allowed) => expect(list.allows(address)).toBe(allowed));

  it('refuses when the peer address is unknown (socket already gone)', () =>
    expect(list.allows(undefined)).toBe(false));
});

describe('allow file', () => {
  it('reads one CIDR per line with comments and blank lines', () => {
    const cidrs = parseAllowFile(
      '# office\n10.0.0.0/8   # vpn\n\n  192.0.2.1\r\n2001:db8::/32\n',
      'allow.txt',
    );
    expect(cidrs.map((c) => `${c.address}/${c.prefix}`)).toEqual([
      '10.0.0.0/8',
      '192.0.2.1/32',
      '2001:db8::/32',
    ]);
  });

  it('refuses the whole file and names the line of the first bad entry', () => {
    expect(() => parseAllowFile('10.0.0.0/8\n\n300.1.1.1\n', 'allow.txt')).toThrow(
      new AllowFileError("allow.txt:3: '300.1.1.1' is not a valid CIDR"),
    );
  });

  it('keeps the current list when a reload finds a bad file', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-policy-'));
    const file = path.join(dir, 'allow');
    await fs.writeFile(file, '10.0.0.0/8\n');
    const policy = new AccessPolicy({ allow: ['127.0.0.1/32'], allowFile: file, proxyProtocolFrom: [] });
    expect(policy.allowlist.allows('10.2.3.4')).toBe(true);
    await fs.writeFile(file, 'garbage\n');
    expect(() => policy.reload()).toThrow(AllowFileError);
    expect(policy.allowlist.allows('10.2.3.4')).toBe(true);
    await fs.writeFile(file, '192.0.2.0/24\n');
    expect(policy.reload()).toEqual({ entries: 2 });
    expect(policy.allowlist.allows('10.2.3.4')).toBe(false);
    expect(policy.allowlist.allows('127.0.0.1')).toBe(true); // --allow entries stay
  });

  it('treats trusted balancers separately from the access list', () => {
    const policy = new AccessPolicy({
      allow: ['10.0.0.0/8'],
      proxyProtocolFrom: ['192.168.0.0/16'],
      allowFile: undefined,
    });
    expect(policy.isProxyPeer('192.168.1.1')).toBe(true);
    expect(policy.isProxyPeer('::ffff:192.168.1.1')).toBe(true);
    expect(policy.isProxyPeer('10.0.0.1')).toBe(false);
  });
});
