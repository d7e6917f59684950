/**
 * --log-format: JSON lines for machines (the default when stdout is not a terminal), or one
 * readable line per event for people:
 *
 *   2026-12-01T10:05:20.123Z INFO  connection closed: client_quit  session=3 client.address=127.0.0.1 ...
 *
 * Our own small formatter (no pino-pretty): it turns pino's JSON line into text just before it is
 * written, so the same destination (asynchronous, EPIPE-safe: log-destination.ts) carries both.
 */
import type { LogFormat } from '../core/values';

export type { LogFormat };
export type ResolvedLogFormat = 'json' | 'pretty';

/** auto: pretty on a terminal, JSON otherwise (pipes, files, journald, containers). */
export function resolveLogFormat(format: LogFormat, stdoutIsTty: boolean): ResolvedLogFormat {
  if (format === 'auto') return stdoutIsTty ? 'pretty' : 'json';
  return format;
}

/** Not repeated after the message: shown in front, or the same on every line. */
const HEAD_KEYS = new Set(['time', 'level', 'msg', 'service']);

const LEVEL_COLORS: Record<string, string> = {
  fatal: '\x1b[41m\x1b[97m',
  error: '\x1b[31m',
  warn: '\x1b[33m',
  info: '\x1b[32m',
  debug: '\x1b[36m',
  trace: '\x1b[90m',
};
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';

export interface PrettyOptions {
  /** ANSI colours (a terminal that did not ask for NO_COLOR). */
  color?: boolean;
}

/** A bare word stays bare; anything with spaces, quotes or nothing at all is JSON-quoted. */
function scalar(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

/** key=value pairs, nested objects flattened with dots (client.address=...). */
function pairs(prefix: string, value: unknown, out: string[]): void {
  if (value === undefined) return;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'stack') continue; // printed below the line
      pairs(prefix ? `${prefix}.${key}` : key, inner, out);
    }
    return;
  }
  out.push(`${prefix}=${Array.isArray(value) ? value.map((v) => scalar(v)).join(',') : scalar(value)}`);
}

function stackOf(entry: Record<string, unknown>): string | undefined {
  const err = entry.err as { stack?: unknown } | undefined;
  return typeof err?.stack === 'string' ? err.stack : undefined;
}

/** One JSON log line (as pino writes it) as a readable line; anything else passes unchanged. */
export function formatPretty(line: string, options: PrettyOptions = {}): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (entry === null || typeof entry !== 'object') return line;
  const level = String(entry.level ?? 'info');
  const rest: string[] = [];
  for (const [key, value] of Object.entries(entry)) if (!HEAD_KEYS.has(key)) pairs(key, value, rest);
  const color = options.color ? (LEVEL_COLORS[level] ?? '') : '';
  const levelText = color
    ? `${color}${level.toUpperCase().padEnd(5)}${RESET}`
    : level.toUpperCase().padEnd(5);
  const details =
    rest.length === 0 ? '' : options.color ? `  ${DIM}${rest.join(' ')}${RESET}` : `  ${rest.join(' ')}`;
  const stack = stackOf(entry);
  const below = stack ? `\n${stack.replace(/^/gm, '    ')}` : '';
  return `${String(entry.time ?? '')} ${levelText} ${String(entry.msg ?? '')}${details}${below}\n`;
}

/** pino's destination interface, as LogDestination offers it. */
export interface LineDestination {
  write(line: string): unknown;
  flush?(callback?: (error?: Error) => void): void;
}

/** Wraps a destination so every JSON line arrives as a pretty one. */
export function prettyDestination(inner: LineDestination, options: PrettyOptions = {}): LineDestination {
  return {
    write: (line) => {
      inner.write(formatPretty(line, options));
      return true;
    },
    flush: (callback) => (inner.flush ? inner.flush(callback) : callback?.()),
  };
}
