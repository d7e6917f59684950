import type net from 'node:net';
import { Allowlist } from './allowlist';
import { readAllowFile } from './allow-file';
import { parseCidrList, toBlockList, type Cidr } from './cidr';

export interface AccessPolicyOptions {
  /** --allow entries. */
  allow: readonly string[];
  /** --allow-file, combined with --allow; reloadable. */
  allowFile?: string;
  /** --proxy-protocol-from: peers that must send a PROXY header. */
  proxyProtocolFrom: readonly string[];
}

/**
 * Who may connect: the IP access list (--allow plus --allow-file) and the load balancers whose
 * PROXY headers are trusted. Built once at startup (errors are configuration errors); the allow
 * file can be reloaded, and a bad file keeps the previous list.
 */
export class AccessPolicy {
  readonly allowlist: Allowlist;
  private readonly fixed: Cidr[];
  private readonly proxyPeers?: net.BlockList;

  constructor(private readonly options: AccessPolicyOptions) {
    this.fixed = parseCidrList(options.allow, '--allow');
    this.allowlist = new Allowlist([
      ...this.fixed,
      ...(options.allowFile ? readAllowFile(options.allowFile) : []),
    ]);
    const proxyCidrs = parseCidrList(options.proxyProtocolFrom, '--proxy-protocol-from');
    if (proxyCidrs.length > 0) this.proxyPeers = toBlockList(proxyCidrs);
  }

  get allowFile(): string | undefined {
    return this.options.allowFile;
  }

  /** Re-reads --allow-file; throws (keeping the current list) when it is unreadable or invalid. */
  reload(): { entries: number } {
    if (!this.options.allowFile) return { entries: this.allowlist.size };
    const next = [...this.fixed, ...readAllowFile(this.options.allowFile)];
    this.allowlist.replace(next);
    return { entries: next.length };
  }

  isProxyPeer(address: string | undefined): boolean {
    if (!this.proxyPeers || !address) return false;
    return this.proxyPeers.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
  }
}
