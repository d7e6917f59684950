#!/usr/bin/env node
import fs from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { benchCommand } from './bench';
import { certsCommand } from './certs';
import { checkCommand } from './check';
import { connectInfoCommand } from './connect-info';
import { serveCommand } from './serve';
import { unknownFlags } from './command-line-flags';
import { usageError } from './usage-error';

/**
 * Every flag also comes from MTP_<FLAG_IN_UPPER_SNAKE_CASE> and from --config FILE (JSON, keys as
 * flag names). Precedence: flag > environment > file > default.
 */
export async function main(args: string[]): Promise<void> {
  const cli = yargs(args);
  await cli
    .scriptName('mysql-tls-proxy')
    .env('MTP')
    .config('config', 'JSON file whose keys are flag names (flag > env > file > default)', (path: string) => {
      try {
        return JSON.parse(fs.readFileSync(path, 'utf8')) as object;
      } catch (error) {
        throw new Error(`--config ${path}: ${(error as Error).message}`);
      }
    })
    .command(serveCommand)
    .command(certsCommand)
    .command(connectInfoCommand)
    .command(benchCommand)
    .command(checkCommand)
    .middleware(() => {
      // Runs after the command's builder, so its options are known by now.
      const options = (
        cli as unknown as { getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]> } }
      ).getOptions();
      const known = new Set([
        ...Object.keys(options.key),
        ...Object.values(options.alias).flat(),
        'help',
        'version',
      ]);
      const unknown = unknownFlags(args, known);
      if (unknown.length > 0) {
        usageError(`Unknown argument${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`);
        process.exit(2);
      }
    }, true)
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((message, error) => {
      usageError((message ?? error?.message ?? 'invalid usage').replace(/\s*\n\s*/g, ' '));
      process.exit(2);
    })
    .parseAsync();
}

if (require.main === module) {
  main(hideBin(process.argv)).catch((error: unknown) => {
    process.stderr.write(`mysql-tls-proxy: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
