import pino, { type Logger } from 'pino';
import { LogDestination } from './log-destination';
import { prettyDestination, resolveLogFormat, type LogFormat } from './log-format';

export type { Logger };

export { LOG_LEVELS, type LogLevel } from '../core/values';
import type { LogLevel } from '../core/values';

export interface LogOutput {
  /** --log-format; default json. */
  format?: LogFormat;
  /** Whether stdout is a terminal: decides 'auto', and colours of pretty lines. */
  tty?: boolean;
  /** NO_COLOR (https://no-color.org): pretty lines without ANSI colours even on a terminal. */
  noColor?: boolean;
}

/** What `serve` writes to: stdout as it is now (a terminal or not), colours unless NO_COLOR. */
export function stdoutLogOutput(format: LogFormat, env: NodeJS.ProcessEnv = process.env): LogOutput {
  return { format, tty: process.stdout.isTTY === true, noColor: Boolean(env.NO_COLOR) };
}

/**
 * JSON lines on stdout (one per event), ready for any log shipper, or readable lines for people
 * (--log-format). Redaction is a second line of defence: the proxy never puts passwords or auth
 * data in log objects in the first place.
 */
export function createLogger(
  level: LogLevel,
  destination: pino.DestinationStream = new LogDestination(1),
  output: LogOutput = {},
): Logger {
  const tty = output.tty === true;
  const pretty = resolveLogFormat(output.format ?? 'json', tty) === 'pretty';
  const target = pretty
    ? (prettyDestination(destination, { color: tty && !output.noColor }) as pino.DestinationStream)
    : destination;
  return pino(
    {
      level,
      base: { service: 'mysql-tls-proxy' },
      redact: { paths: ['password', '*.password', 'authResponse', '*.authResponse'], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    target,
  );
}
