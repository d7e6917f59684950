import net from 'node:net';
import { ConfigError } from '../core/errors';
import { ipv4MappedProblem } from './ipv4-mapped';

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** Parses "10.0.0.0/8", "::1/128" or a bare address (a /32 or /128). */
export function parseCidr(text: string): Cidr | undefined {
  const [address, prefixText, extra] = text.trim().split('/');
  if (extra !== undefined) return undefined;
  const version = net.isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/**
 * Parses every entry or throws a ConfigError naming the first bad one: not a CIDR, or an IPv6
 * range that would silently admit every IPv4 client (see ipv4-mapped.ts).
 */
export function parseCidrList(entries: readonly string[], source: string): Cidr[] {
  return entries.map((entry) => {
    const cidr = parseCidr(entry);
    if (!cidr)
      throw new ConfigError(`${source}: '${entry}' is not a valid CIDR (e.g. 10.0.0.0/8, 2001:db8::/32)`);
    const problem = ipv4MappedProblem(cidr);
    if (problem) throw new ConfigError(`${source}: '${entry}' ${problem}`);
    return cidr;
  });
}

/**
 * A BlockList of the given ranges. Node's BlockList matches IPv4-mapped IPv6 peers
 * (::ffff:10.1.2.3) against IPv4 rules, which is what a dual-stack listener reports.
 */
export function toBlockList(cidrs: readonly Cidr[]): net.BlockList {
  const list = new net.BlockList();
  for (const cidr of cidrs) list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  return list;
}
