/**
 * Enumerates what a server accepts for one TLS version, one handshake per question:
 * - TLS 1.0-1.2 ciphers: offer a family of suites, remove the one the server picks, repeat until it
 *   refuses (families are walked in parallel, each one sequentially);
 * - TLS 1.3 ciphers: each of the five suites alone;
 * - groups: each one alone (TLS 1.2: with ECDHE suites only; DHE parameters are the server's);
 * - cipher order: two accepted suites offered in both orders;
 * - signature algorithms: each one alone.
 */
import type tls from 'node:tls';
import type { CipherFact, TlsVersion, VersionFacts } from './facts';
import type { Limiter } from './limit';
import { withHandshake, type ProbeFailure, type ProbeTarget, type TlsOptions } from './mysql-tls';

/** The client must really offer old versions, SHA-1 and small keys, or we would blame the server. */
const ANY = '@SECLEVEL=0';
const NOT_PSK = '!PSK:!SRP';
const KEY_EXCHANGES = ['kECDHE', 'kDHE', 'kRSA'];
const ENCRYPTIONS = ['AESGCM', 'CHACHA20', 'AESCCM', 'AES:!AESGCM:!AESCCM'];
/** OpenSSL cipher strings that together cover every suite OpenSSL can offer below TLS 1.3. */
export const CIPHER_FAMILIES: readonly string[] = [
  ...KEY_EXCHANGES.flatMap((kx) => ENCRYPTIONS.map((enc) => `${kx}+${enc}:${NOT_PSK}`)),
  `AES:CHACHA20:!kECDHE:!kDHE:!kRSA:${NOT_PSK}`,
  `ALL:COMPLEMENTOFALL:!AES:!CHACHA20:${NOT_PSK}`,
];
export const TLS13_SUITES = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_AES_128_GCM_SHA256',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_CCM_SHA256',
  'TLS_AES_128_CCM_8_SHA256',
];
const EC_GROUPS = ['X25519', 'X448', 'P-256', 'P-384', 'P-521'];
const FFDHE_GROUPS = ['ffdhe2048', 'ffdhe3072', 'ffdhe4096', 'ffdhe6144', 'ffdhe8192'];
const SIGALGS_13 = [
  'ecdsa_secp256r1_sha256',
  'ecdsa_secp384r1_sha384',
  'ecdsa_secp521r1_sha512',
  'ed25519',
  'ed448',
  'rsa_pss_rsae_sha256',
  'rsa_pss_rsae_sha384',
  'rsa_pss_rsae_sha512',
  'rsa_pss_pss_sha256',
  'rsa_pss_pss_sha384',
  'rsa_pss_pss_sha512',
];
const SIGALGS_12 = [
  ...SIGALGS_13,
  'rsa_pkcs1_sha256',
  'rsa_pkcs1_sha384',
  'rsa_pkcs1_sha512',
  'rsa_pkcs1_sha1',
  'ecdsa_sha1',
];
/** OpenSSL 3.0 knows ecdsa_sha1 only by its TLS 1.2 "SIG+HASH" spelling. */
const OPENSSL_SIGALG_NAMES: Record<string, string> = { ecdsa_sha1: 'ECDSA+SHA1' };
const SIGNED_KEY_EXCHANGE = `kECDHE:kDHE:${NOT_PSK}:${ANY}`;

/** A refusal is the server's answer; anything else means we did not get an answer. */
export function isRefusal(failure: ProbeFailure): boolean {
  return failure.kind === 'tls_alert' || failure.kind === 'closed';
}

interface Ctx {
  target: ProbeTarget;
  limit: Limiter;
  version: TlsVersion;
  errors: string[];
}

function pinned(version: TlsVersion, options: TlsOptions): TlsOptions {
  return { minVersion: version, maxVersion: version, ...options };
}

/** One handshake; the value of `read` on success, undefined on refusal (errors are recorded). */
async function ask<T>(ctx: Ctx, options: TlsOptions, read: (s: tls.TLSSocket) => T): Promise<T | undefined> {
  const result = await ctx.limit(() => withHandshake(ctx.target, pinned(ctx.version, options), read));
  if (result.ok) return result.value;
  if (!isRefusal(result.failure)) ctx.errors.push(`${JSON.stringify(options)}: ${result.failure.reason}`);
  return undefined;
}

const cipherOf = (s: tls.TLSSocket): CipherFact => ({
  name: s.getCipher().name,
  standardName: s.getCipher().standardName,
});

async function walkFamily(ctx: Ctx, family: string): Promise<CipherFact[]> {
  const found: CipherFact[] = [];
  for (;;) {
    const excluded = found.map((c) => `:!${c.name}`).join('');
    const cipher = await ask(ctx, { ciphers: `${family}${excluded}:${ANY}` }, cipherOf);
    if (!cipher || found.some((c) => c.name === cipher.name)) return found;
    found.push(cipher);
  }
}

async function enumerateCiphers(ctx: Ctx): Promise<CipherFact[]> {
  if (ctx.version === 'TLSv1.3') {
    const suites = await Promise.all(TLS13_SUITES.map((suite) => ask(ctx, { ciphers: suite }, cipherOf)));
    return suites.filter((s): s is CipherFact => s !== undefined);
  }
  return (await Promise.all(CIPHER_FAMILIES.map((family) => walkFamily(ctx, family)))).flat();
}

async function serverOrder(ctx: Ctx, ciphers: CipherFact[]): Promise<boolean | undefined> {
  if (ciphers.length < 2) return undefined;
  const [a, b] = ciphers.map((c) => c.name);
  const suffix = ctx.version === 'TLSv1.3' ? '' : `:${ANY}`;
  const [first, second] = await Promise.all([
    ask(ctx, { ciphers: `${a}:${b}${suffix}` }, (s) => s.getCipher().name),
    ask(ctx, { ciphers: `${b}:${a}${suffix}` }, (s) => s.getCipher().name),
  ]);
  if (!first || !second) return undefined;
  return first === second;
}

const dhBits = (socket: tls.TLSSocket): number | undefined =>
  (socket.getEphemeralKeyInfo() as { size?: number } | null)?.size;

async function enumerateGroups(ctx: Ctx): Promise<{ groups: string[]; dheBits?: number }> {
  const tls13 = ctx.version === 'TLSv1.3';
  const names = tls13 ? [...FFDHE_GROUPS.slice().reverse(), ...EC_GROUPS] : EC_GROUPS;
  const ciphers = tls13 ? undefined : `kECDHE:${NOT_PSK}:${ANY}`;
  const [accepted, dheBits] = await Promise.all([
    Promise.all(names.map((group) => ask(ctx, { ecdhCurve: group, ciphers }, () => group))),
    tls13 ? undefined : ask(ctx, { ciphers: `kDHE:${NOT_PSK}:${ANY}` }, dhBits),
  ]);
  const order = [...EC_GROUPS, ...FFDHE_GROUPS];
  const groups = accepted.filter((g): g is string => g !== undefined);
  return {
    groups: groups.sort((a, b) => order.indexOf(a) - order.indexOf(b)),
    dheBits: dheBits ?? undefined,
  };
}

async function enumerateSigalgs(ctx: Ctx): Promise<string[]> {
  if (ctx.version !== 'TLSv1.2' && ctx.version !== 'TLSv1.3') return [];
  const list = ctx.version === 'TLSv1.3' ? SIGALGS_13 : SIGALGS_12;
  const ciphers = ctx.version === 'TLSv1.3' ? undefined : SIGNED_KEY_EXCHANGE;
  const found = await Promise.all(
    list.map((alg) => ask(ctx, { sigalgs: OPENSSL_SIGALG_NAMES[alg] ?? alg, ciphers }, () => alg)),
  );
  return found.filter((a): a is string => a !== undefined);
}

/** Everything about one version the server accepts. */
export async function enumerateVersion(
  target: ProbeTarget,
  limit: Limiter,
  version: TlsVersion,
): Promise<
  Pick<
    VersionFacts,
    'ciphers' | 'serverCipherOrder' | 'groups' | 'dheBits' | 'signatureAlgorithms' | 'probeErrors'
  >
> {
  const ctx: Ctx = { target, limit, version, errors: [] };
  // Groups first: the limiter is first come, first served, and ffdhe6144/8192 handshakes take
  // seconds of server CPU, so they should not start last.
  const [groups, ciphers, signatureAlgorithms] = await Promise.all([
    enumerateGroups(ctx),
    enumerateCiphers(ctx),
    enumerateSigalgs(ctx),
  ]);
  const serverCipherOrder = await serverOrder(ctx, ciphers);
  return { ciphers, serverCipherOrder, ...groups, signatureAlgorithms, probeErrors: ctx.errors };
}
