/**
 * Value parsers for the flag table. Each takes what a source hands over (a yargs value, an
 * MTP_* string, a YAML/JSON value) and the flag's name for the error message, and returns the
 * typed value or throws a ConfigError naming the flag.
 */
import net from 'node:net';
import os from 'node:os';
import { ConfigError } from '../core/errors';
import { parseCidrList } from '../policy/cidr';
import { LOG_LEVELS, TLS_VERSIONS, type LogLevel, type TlsVersion } from '../core/values';
import { parseBackendAddress, type BackendAddress } from './backend-address';
import { parseHostPort, type HostPort } from './host-port';

/** A repeated flag arrives as an array: the last one wins. */
function last(value: unknown): unknown {
  return Array.isArray(value) ? value[value.length - 1] : value;
}

export function str(value: unknown, fallback: string, flag: string): string {
  value = last(value);
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'string' && typeof value !== 'number')
    throw new ConfigError(`${flag} must be a string`);
  const text = String(value).trim();
  if (text === '') throw new ConfigError(`${flag} must not be empty`);
  return text;
}

export function optionalStr(value: unknown, flag: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  return str(value, '', flag);
}

export function bool(value: unknown, fallback: boolean, flag: string): boolean {
  value = last(value);
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(`${flag} must be true or false, got '${String(value)}'`);
}

/**
 * A boolean that also takes one word (--require-secure-transport=warn). As a string flag its bare
 * form arrives as '', which means on, like the boolean it was.
 */
export function boolOrWord<W extends string>(
  value: unknown,
  fallback: boolean,
  flag: string,
  word: W,
): boolean | W {
  value = last(value);
  if (value === word) return word;
  if (value === '' || value === 'on') return true;
  if (value === 'off') return false;
  if (typeof value === 'boolean' || value === undefined || value === null) return bool(value, fallback, flag);
  if (['true', 'false', '1', '0'].includes(String(value))) return bool(String(value), fallback, flag);
  throw new ConfigError(`${flag} must be on, off or ${word}, got '${String(value)}'`);
}

export function num(value: unknown, fallback: number | undefined, flag: string): number | undefined {
  value = last(value);
  if (value === undefined || value === null) return fallback;
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (typeof value === 'boolean' || String(value).trim() === '' || Number.isNaN(n))
    throw new ConfigError(`${flag} must be a number, got '${String(value)}'`);
  return n;
}

export function int(value: unknown, fallback: number, flag: string, min: number, max = Infinity): number {
  value = last(value);
  if (value === undefined || value === null) return fallback;
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isInteger(n) || n < min)
    throw new ConfigError(`${flag} must be an integer >= ${min}, got '${String(value)}'`);
  if (n > max) throw new ConfigError(`${flag} must be an integer <= ${max}, got '${String(value)}'`);
  return n;
}

/** Repeatable flags: arrays from flags/config files, comma lists from the environment. */
export function list(value: unknown, fallback: readonly string[] = []): string[] {
  if (value === undefined || value === null) return [...fallback];
  const items = (Array.isArray(value) ? value : [value]).flatMap((item) => String(item).split(','));
  return items.map((item) => item.trim()).filter((item) => item !== '');
}

export function oneOf<T extends string>(value: unknown, fallback: T, flag: string, choices: readonly T[]): T {
  const text = str(value, fallback, flag);
  if ((choices as readonly string[]).includes(text)) return text as T;
  const options =
    choices.length <= 3
      ? `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}`
      : `one of ${choices.join(', ')}`;
  throw new ConfigError(`${flag} must be ${options}, got '${text}'`);
}

export function tlsVersion(value: unknown, fallback: TlsVersion, flag: string): TlsVersion {
  const text = str(value, fallback, flag);
  if ((TLS_VERSIONS as readonly string[]).includes(text)) return text as TlsVersion;
  if (/^(SSLv3|TLSv1(\.[01])?)$/.test(text)) {
    throw new ConfigError(
      `${flag} ${text} is refused: only TLSv1.2 and TLSv1.3 are offered (RFC 8996 deprecates older versions)`,
    );
  }
  throw new ConfigError(`${flag} must be TLSv1.2 or TLSv1.3, got '${text}'`);
}

export function hostPort(value: unknown, fallback: string, flag: string): HostPort {
  return parseHostPort(str(value, fallback, flag), flag);
}

/** --backend: HOST:PORT or unix:/path. */
export function backendAddress(value: unknown, fallback: string, flag: string): BackendAddress {
  return parseBackendAddress(str(value, fallback, flag), flag);
}

/** HOST:PORT or 'off'. */
export function optionalHostPort(value: unknown, fallback: string, flag: string): HostPort | undefined {
  const text = str(value, fallback, flag);
  return text === 'off' ? undefined : parseHostPort(text, flag);
}

export function cidrs(value: unknown, fallback: readonly string[], flag: string): string[] {
  const entries = list(value, fallback);
  parseCidrList(entries, flag);
  return entries;
}

export function ipAddress(value: unknown, flag: string): string | undefined {
  const text = optionalStr(value, flag);
  if (text !== undefined && net.isIP(text) === 0)
    throw new ConfigError(`${flag}: '${text}' is not an IP address`);
  return text;
}

export function logLevel(value: unknown, fallback: LogLevel, flag: string): LogLevel {
  return oneOf(value, fallback, flag, LOG_LEVELS);
}

/** --workers: 0 means one per core. */
export function workers(value: unknown, fallback: number, flag: string): number {
  const n = int(value, fallback, flag, 0);
  return n === 0 ? os.availableParallelism() : n;
}
