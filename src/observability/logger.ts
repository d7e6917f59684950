import pino, { type Logger } from 'pino';
import { LogDestination } from './log-destination';

export type { Logger };

export { LOG_LEVELS, type LogLevel } from '../core/values';
import type { LogLevel } from '../core/values';

/**
 * JSON lines on stdout (one per event), ready for any log shipper. Redaction is a second line of
 * defence: the proxy never puts passwords or auth data in log objects in the first place.
 */
export function createLogger(
  level: LogLevel,
  destination: pino.DestinationStream = new LogDestination(1),
): Logger {
  return pino(
    {
      level,
      base: { service: 'mysql-tls-proxy' },
      redact: { paths: ['password', '*.password', 'authResponse', '*.authResponse'], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
