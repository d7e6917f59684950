import { parseProxyHeader, type ProxyAddress } from '../protocol/proxy-protocol';

export type GateResult =
  | { status: 'incomplete' }
  | { status: 'invalid'; reason: string }
  | { status: 'ok'; source?: ProxyAddress; destination?: ProxyAddress; rest: Buffer };

/**
 * Collects the first bytes from a trusted load balancer until its PROXY header is complete.
 * Bytes after the header are the client's own and are handed back untouched.
 */
export class ProxyHeaderGate {
  private buffered: Buffer = Buffer.alloc(0);

  push(data: Buffer): GateResult {
    this.buffered = this.buffered.length === 0 ? data : Buffer.concat([this.buffered, data]);
    const result = parseProxyHeader(this.buffered);
    if (result.status !== 'ok') return result;
    const rest = this.buffered.subarray(result.length);
    this.buffered = Buffer.alloc(0);
    return result.command === 'proxy'
      ? { status: 'ok', source: result.source, destination: result.destination, rest }
      : { status: 'ok', rest };
  }
}
