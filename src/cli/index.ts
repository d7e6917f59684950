#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { GLOBAL_FLAGS, SERVE_FLAGS, type CommandName, type FlagSpec } from '../config/flags';
import { BENCH_FLAGS, benchCommand } from './bench';
import { CERTS_FLAGS, certsCommand } from './certs';
import { CHECK_FLAGS, checkCommand } from './check';
import { CONNECT_INFO_FLAGS, connectInfoCommand } from './connect-info';
import { applySources } from './flag-options';
import { ConfigError } from '../core/errors';
import { serveCommand } from './serve';
import { unknownFlags } from './command-line-flags';
import { usageError } from './usage-error';

/** Every flag of every subcommand (src/config/flags.ts and each command's own table). */
export const ALL_FLAGS: readonly FlagSpec[] = [
  ...GLOBAL_FLAGS,
  ...SERVE_FLAGS,
  ...CONNECT_INFO_FLAGS,
  ...CERTS_FLAGS,
  ...BENCH_FLAGS,
  ...CHECK_FLAGS,
];

const COMMANDS: readonly CommandName[] = ['serve', 'connect-info', 'certs', 'bench', 'check'];

/**
 * Every flag also comes from MTP_<FLAG_IN_UPPER_SNAKE_CASE> and from --config FILE (YAML or JSON,
 * keys as flag names). Precedence: flag > environment > file > default (src/cli/flag-options.ts).
 */
export async function main(args: string[]): Promise<void> {
  const cli = yargs(args);
  await cli
    .scriptName('mysql-tls-proxy')
    .option('config', { type: 'string', describe: GLOBAL_FLAGS[0].describe })
    .command(serveCommand)
    .command(certsCommand)
    .command(connectInfoCommand)
    .command(benchCommand)
    .command(checkCommand)
    .middleware((argv) => {
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
      const first = String(argv._[0] ?? '');
      const command = COMMANDS.find((name) => name === first) ?? 'serve';
      try {
        applySources(argv as Record<string, unknown>, command, ALL_FLAGS);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        usageError(error.message);
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
