/**
 * What an endpoint should look like (--policy): the built-in tidb-cloud policy, or a JSON/YAML file
 * whose keys override it. Pure: the CLI reads the file, this module parses and validates the text.
 */
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../core/errors';
import { TLS_VERSIONS, type TlsVersion } from './facts';

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Policy {
  name: string;
  /** TLS versions that may be accepted. */
  versions: TlsVersion[];
  /** Cipher suites that may be accepted (OpenSSL or IANA names); undefined: any that meets the rules. */
  ciphers?: string[];
  requireForwardSecrecy: boolean;
  requireAead: boolean;
  /** Key-exchange groups that may be accepted; undefined: any. */
  groups?: string[];
  minDheBits: number;
  minRsaBits: number;
  minEcBits: number;
  /** Days the leaf certificate must still be valid for. */
  minDaysValid: number;
  requireVerifiedChain: boolean;
  allowRenegotiation: boolean;
  allowCompression: boolean;
  /** Plaintext logins still processed (TLS optional): reported as low when allowed, high when not. */
  allowPlaintextLogin: boolean;
  /** Per finding id, a severity replacing the built-in one. */
  severities: Record<string, Severity>;
}

/** TiDB Cloud's posture: TLS 1.2 and 1.3 only, forward-secret AEAD ciphers, verifiable chain, no renegotiation. */
export const TIDB_CLOUD_POLICY: Policy = {
  name: 'tidb-cloud',
  versions: ['TLSv1.2', 'TLSv1.3'],
  requireForwardSecrecy: true,
  requireAead: true,
  minDheBits: 2048,
  minRsaBits: 2048,
  minEcBits: 256,
  minDaysValid: 14,
  requireVerifiedChain: true,
  allowRenegotiation: false,
  allowCompression: false,
  allowPlaintextLogin: true,
  severities: {},
};

export const BUILT_IN_POLICIES: Record<string, Policy> = { 'tidb-cloud': TIDB_CLOUD_POLICY };

type Checker = (value: unknown, key: string) => unknown;

const bool: Checker = (v, k) => {
  if (typeof v !== 'boolean') throw new ConfigError(`policy: ${k} must be true or false`);
  return v;
};
const count: Checker = (v, k) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new ConfigError(`policy: ${k} must be an integer >= 0`);
  return v;
};
const strings: Checker = (v, k) => {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string'))
    throw new ConfigError(`policy: ${k} must be a list of names`);
  return v;
};
const versions: Checker = (v, k) => {
  const list = strings(v, k) as string[];
  const bad = list.find((s) => !(TLS_VERSIONS as readonly string[]).includes(s));
  if (bad) throw new ConfigError(`policy: ${k}: unknown version ${bad} (one of ${TLS_VERSIONS.join(', ')})`);
  return list;
};
const severities: Checker = (v, k) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ConfigError(`policy: ${k} must be a map`);
  for (const [id, s] of Object.entries(v)) {
    if (!(SEVERITIES as readonly unknown[]).includes(s))
      throw new ConfigError(`policy: ${k}.${id} must be one of ${SEVERITIES.join(', ')}`);
  }
  return v;
};

const FIELDS: Record<string, Checker> = {
  name: (v, k) => {
    if (typeof v !== 'string') throw new ConfigError(`policy: ${k} must be a string`);
    return v;
  },
  versions,
  ciphers: strings,
  requireForwardSecrecy: bool,
  requireAead: bool,
  groups: strings,
  minDheBits: count,
  minRsaBits: count,
  minEcBits: count,
  minDaysValid: count,
  requireVerifiedChain: bool,
  allowRenegotiation: bool,
  allowCompression: bool,
  allowPlaintextLogin: bool,
  severities,
};

/** Parses a policy file (JSON is YAML too); its keys override the tidb-cloud policy. */
export function parsePolicy(text: string, label: string): Policy {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`--policy ${label}: ${(error as Error).message.split('\n')[0]}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ConfigError(`--policy ${label}: expected a map of policy keys`);
  const policy: Record<string, unknown> = { ...TIDB_CLOUD_POLICY, name: label };
  for (const [key, value] of Object.entries(raw)) {
    const check = FIELDS[key];
    if (!check)
      throw new ConfigError(
        `--policy ${label}: unknown key ${key} (known: ${Object.keys(FIELDS).join(', ')})`,
      );
    policy[key] = check(value, key);
  }
  return policy as unknown as Policy;
}

export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}
