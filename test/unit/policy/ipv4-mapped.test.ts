/**
 * IPv6 rules that would admit IPv4 clients (SECURITY.md, "Access rules mean what they say"): Node's
 * BlockList matches an IPv4 peer against IPv6 rules through ::ffff:a.b.c.d, so ::/0 admits
 * 10.1.2.3. Such rules are refused unless written as ::ffff:0:0/96 or a subnet of it. The oracle
 * for the property tests is Node's own BlockList, the thing the access list uses.
 */
import fc from 'fast-check';
import { promises as fs } from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { ConfigError } from '../../../src/config/errors';
import { AccessPolicy } from '../../../src/policy/access-policy';
import { AllowFileError, parseAllowFile } from '../../../src/policy/allow-file';
import { Allowlist } from '../../../src/policy/allowlist';
import { parseCidr, parseCidrList } from '../../../src/policy/cidr';
import { ipv4MappedProblem, ipv6Bytes } from '../../../src/policy/ipv4-mapped';

const COVERS = /contains ::ffff:0:0\/96, the IPv4-mapped addresses, so it would admit every IPv4 client too/;

/** What Node's BlockList does with one IPv6 rule and an IPv4 peer. */
function admitsIpv4(rule: string, peer: string): boolean {
  const cidr = parseCidr(rule)!;
  const list = new net.BlockList();
  list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  return list.check(peer, 'ipv4');
}

describe('IPv6 rules covering the IPv4-mapped block', () => {
  it.each(['::/0', '::/1', '::/64', '::/80', '::ffff:0:0/95', '0:0:0:0:0:fffe::/79'])(
    '%s is refused at startup, saying it would admit every IPv4 client',
    (rule) => {
      expect(admitsIpv4(rule, '10.1.2.3')).toBe(true); // why: BlockList really does admit them
      expect(() => parseCidrList(['127.0.0.1/32', rule], '--allow')).toThrow(ConfigError);
      expect(() => parseCidrList([rule], '--allow')).toThrow(
        new RegExp(`^--allow: '${rule}' ${COVERS.source}`),
      );
    },
  );

  it.each([
    ['::ffff:0:0/96', 'all of IPv4, written explicitly'],
    ['::ffff:10.0.0.0/104', 'a subnet of it: 10.0.0.0/8'],
    ['::ffff:0:0/97', 'a subnet of it: 0.0.0.0/1'],
    ['::/81', 'stops before the ffff bits'],
    ['::1/128', 'loopback'],
    ['2001:db8::/32', 'a global range'],
    ['fd00::/8', 'unique local'],
    ['0.0.0.0/0', 'IPv4 itself'],
  ])('%s is accepted (%s)', (rule) => {
    expect(parseCidrList([rule], '--allow')).toEqual([parseCidr(rule)]);
  });

  it('also guards --proxy-protocol-from, whose list trusts PROXY headers the same way', () => {
    expect(() => parseCidrList(['::/0'], '--proxy-protocol-from')).toThrow(
      /^--proxy-protocol-from: '::\/0' contains ::ffff:0:0\/96/,
    );
  });

  const ipv6Text = (bytes: Uint8Array): string =>
    Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] << 8) | bytes[2 * i + 1]).toString(16)).join(':');
  const ipv4Text = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
  /** Random IPv6 rules, half of them starting like ::ffff:0:0 so the boundary is exercised. */
  const ipv6Rule = fc
    .tuple(
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.integer({ min: 0, max: 128 }),
      fc.boolean(),
      fc.integer({ min: 0, max: 96 }),
    )
    .map(([random, prefix, nearMapped, keep]) => {
      const bytes = Uint8Array.from(random);
      if (nearMapped) {
        const base = ipv6Bytes('::ffff:0:0');
        for (let bit = 0; bit < keep; bit++) {
          const mask = 0x80 >> (bit % 8);
          bytes[bit >> 3] = (bytes[bit >> 3] & ~mask) | (base[bit >> 3] & mask);
        }
      }
      return `${ipv6Text(bytes)}/${prefix}`;
    });

  it('an accepted IPv6 rule admits IPv4 clients only when written inside ::ffff:0:0/96', () => {
    fc.assert(
      fc.property(ipv6Rule, ipv4Text, (rule, peer) => {
        const cidr = parseCidr(rule)!;
        if (ipv4MappedProblem(cidr)) return;
        if (!explicit(cidr)) expect(admitsIpv4(rule, peer)).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('a refused IPv6 rule would have admitted every IPv4 client', () => {
    fc.assert(
      fc.property(ipv6Rule, ipv4Text, (rule, peer) => {
        if (ipv4MappedProblem(parseCidr(rule)!)) expect(admitsIpv4(rule, peer)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['2001:db8::8:800:200c:417a', '20010db80000000000080800200c417a'],
    ['::ffff:10.1.2.3', '00000000000000000000ffff0a010203'],
    ['fe80::1%eth0', 'fe800000000000000000000000000001'],
    ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
  ])('reads %s as bytes', (text, hex) => {
    expect(Buffer.from(ipv6Bytes(text)).toString('hex')).toBe(hex);
  });
});

/** A rule written inside ::ffff:0:0/96 (an accepted rule with such an address has prefix >= 96). */
function explicit(cidr: { address: string; prefix: number }): boolean {
  const list = new net.BlockList();
  list.addSubnet('::ffff:0:0', 96, 'ipv6');
  return list.check(cidr.address, 'ipv6');
}

describe('--allow-file with such a rule', () => {
  it('is refused, naming the file and line', () => {
    expect(() => parseAllowFile('10.0.0.0/8\n::/0\n', 'allow.txt')).toThrow(AllowFileError);
    expect(() => parseAllowFile('10.0.0.0/8\n::/0\n', 'allow.txt')).toThrow(
      new RegExp(`^allow\\.txt:2: '::/0' ${COVERS.source}`),
    );
  });

  it('on reload keeps the previous list, which still refuses IPv4 clients it did not allow', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-mapped-'));
    const file = path.join(dir, 'allow');
    await fs.writeFile(file, '2001:db8::/32\n');
    const policy = new AccessPolicy({ allow: ['127.0.0.1/32'], allowFile: file, proxyProtocolFrom: [] });
    await fs.writeFile(file, '2001:db8::/32\n::/1\n');
    expect(() => policy.reload()).toThrow(/allow:2: '::\/1' contains ::ffff:0:0\/96/);
    expect(policy.allowlist.allows('198.51.100.7')).toBe(false);
    expect(policy.allowlist.allows('::ffff:198.51.100.7')).toBe(false);
    expect(policy.allowlist.allows('2001:db8::5')).toBe(true);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('an explicit ::ffff:0:0/96 admits IPv4 peers, as written', () => {
    const list = new Allowlist(parseAllowFile('::ffff:0:0/96\n', 'allow.txt'));
    expect(list.allows('198.51.100.7')).toBe(true);
    expect(list.allows('2001:db8::5')).toBe(false);
  });
});
