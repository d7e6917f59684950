import net from 'node:net';
import { toBlockList, type Cidr } from './cidr';

/**
 * The IP access list. Checked on accept, before any backend dial or TLS work, so refused peers
 * cost almost nothing. Swapped atomically on reload: a check sees the old or the new list.
 */
export class Allowlist {
  private list: net.BlockList;
  private entries: readonly Cidr[];

  constructor(cidrs: readonly Cidr[]) {
    this.entries = cidrs;
    this.list = toBlockList(cidrs);
  }

  get size(): number {
    return this.entries.length;
  }

  replace(cidrs: readonly Cidr[]): void {
    this.list = toBlockList(cidrs);
    this.entries = cidrs;
  }

  allows(address: string | undefined): boolean {
    if (!address) return false;
    const family = net.isIP(address);
    if (family === 0) return false;
    return this.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}
