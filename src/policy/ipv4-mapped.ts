/**
 * IPv4 clients in IPv6 rules. Node's BlockList (and so the access list) matches an IPv4 peer
 * against IPv6 rules through its IPv4-mapped form ::ffff:a.b.c.d (RFC 4291 §2.5.5.2), so an IPv6
 * rule that contains ::ffff:0:0/96 — ::/0, ::/1 up to ::/80, ::ffff:0:0/95 — also admits every
 * IPv4 client. Nobody writing "::/0" to mean "any IPv6 client" means that, so such a rule is
 * refused with an error that says what it covers. Written as ::ffff:0:0/96 itself, or a subnet of
 * it (::ffff:10.0.0.0/104), the IPv4 meaning is explicit and the rule is accepted.
 */
const MAPPED_PREFIX = 96;
/** ::ffff:0:0, the first address of the IPv4-mapped block. */
const MAPPED_BASE = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]);

/** Why an IPv6 rule would silently admit IPv4 clients, or undefined when it does not. */
export function ipv4MappedProblem(cidr: {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}): string | undefined {
  if (cidr.family !== 'ipv6' || cidr.prefix >= MAPPED_PREFIX) return undefined;
  if (!samePrefix(ipv6Bytes(cidr.address), MAPPED_BASE, cidr.prefix)) return undefined;
  return (
    `contains ::ffff:0:0/96, the IPv4-mapped addresses, so it would admit every IPv4 client too; ` +
    `write IPv4 ranges as IPv4 CIDRs (e.g. 0.0.0.0/0), or ::ffff:0:0/96 if you mean all of IPv4`
  );
}

/** Whether the first `bits` bits of two addresses are equal. */
export function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  for (let bit = 0; bit < bits; bit++) {
    const mask = 0x80 >> (bit % 8);
    if ((a[bit >> 3] & mask) !== (b[bit >> 3] & mask)) return false;
  }
  return true;
}

/** The 16 bytes of a valid IPv6 address text ("::", "2001:db8::1", "::ffff:10.0.0.1"). */
export function ipv6Bytes(address: string): Uint8Array {
  let text = address.replace(/%.*$/, ''); // a zone id is not part of the address
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const middle = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  const bytes = new Uint8Array(16);
  [...left, ...middle, ...right].forEach((group, index) => {
    const value = parseInt(group, 16);
    bytes[index * 2] = value >> 8;
    bytes[index * 2 + 1] = value & 0xff;
  });
  return bytes;
}
