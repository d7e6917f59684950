/**
 * The connection attributes the proxy adds to a login (as MySQL Router does), so the database can
 * tell who connected and how. Attributes are bytes: a client may send any, invalid UTF-8 included,
 * and they are relayed exactly; only the proxy's own names are the proxy's to set.
 * https://dev.mysql.com/doc/refman/8.0/en/performance-schema-connection-attribute-tables.html
 */
export type Attributes = Array<[Buffer, Buffer]>;

/** The names the proxy sets. A client's attribute under one of these is dropped, never relayed. */
export const PROXY_ATTRIBUTE_NAMES: readonly Buffer[] = [
  '_client_ip',
  '_client_port',
  '_client_tls_version',
  '_client_tls_cipher',
].map((name) => Buffer.from(name));

export interface ClientFacts {
  ip: string;
  port: number;
}

export function proxyAttributes(facts: ClientFacts, tls?: { version: string; cipher: string }): Attributes {
  const pairs: Array<[string, string]> = [
    ['_client_ip', facts.ip],
    ['_client_port', String(facts.port)],
  ];
  if (tls) pairs.push(['_client_tls_version', tls.version], ['_client_tls_cipher', tls.cipher]);
  return pairs.map(([name, value]) => [Buffer.from(name), Buffer.from(value)]);
}

/** The client's attributes as sent, minus any under the proxy's names, then the proxy's. */
export function withProxyAttributes(client: Attributes | undefined, proxy: Attributes): Attributes {
  const kept = (client ?? []).filter(([name]) => !PROXY_ATTRIBUTE_NAMES.some((own) => own.equals(name)));
  return [...kept, ...proxy];
}
