import type { Argv, CommandModule } from 'yargs';
import { ConfigError } from '../core/errors';
import { SERVE_FLAGS, type FlagSpec } from '../config/flags';
import { describeOrigin, type ResolvedFlags } from '../config/load';
import { buildServeConfig } from '../config/serve-config';
import { runServe } from '../runtime/run';
import { addFlags, resolvedFlags } from './flag-options';
import { usageError } from './usage-error';

type ServeArgs = Record<string, unknown>;

function builder(yargs: Argv): Argv<ServeArgs> {
  return addFlags(
    yargs.usage(
      '$0 serve [options]\n\nTerminate MySQL TLS (TLS 1.2/1.3, in-band after the greeting) in front of a plain-TCP MySQL, MariaDB or TiDB server.',
    ),
    'serve',
    SERVE_FLAGS,
  )
    .example(
      '$0 serve --backend 127.0.0.1:3306',
      'TLS front door on :4000 for a local MySQL/MariaDB (dev certificates in certs/)',
    )
    .example(
      'MTP_BACKEND=db:4000 $0',
      'the same settings from the environment (MTP_ + flag in upper snake case)',
    )
    .example('$0 --config proxy.yaml', 'from a YAML or JSON file whose keys are flag names')
    .example(
      '$0 --config proxy.yaml --check-config',
      'print each setting and where it came from',
    ) as Argv<ServeArgs>;
}

function shown(value: unknown): string {
  if (value === undefined) return '(unset)';
  return Array.isArray(value) ? value.join(',') : String(value);
}

/** One line per setting: flag name, effective value, and its source (flag, env, file, default). */
export function configReport(resolved: ResolvedFlags): string {
  const flags = (SERVE_FLAGS as readonly FlagSpec[]).filter((flag) => flag.path);
  const width = Math.max(...flags.map((flag) => flag.name.length)) + 2;
  const valueWidth = Math.min(40, Math.max(...flags.map((f) => shown(resolved.values[f.name]).length)) + 2);
  return flags
    .map((flag) => {
      const value = shown(resolved.values[flag.name]);
      const origin = describeOrigin(resolved.origins[flag.name]);
      return `${flag.name.padEnd(width)}${value.padEnd(valueWidth)} ${origin}\n`;
    })
    .join('');
}

async function handler(argv: ServeArgs): Promise<void> {
  const resolved = resolvedFlags(argv);
  if (!resolved) throw new Error('flag sources were not resolved');
  let config;
  try {
    if (argv['check-config']) process.stdout.write(configReport(resolved));
    config = buildServeConfig(resolved.values);
  } catch (error) {
    if (error instanceof ConfigError) return usageError(error.message);
    throw error;
  }
  if (argv['check-config']) {
    process.stdout.write('configuration is valid\n');
    return;
  }
  await runServe(config);
}

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: ['serve', '$0'],
  describe: 'Run the TLS-terminating proxy (default)',
  builder,
  handler,
};
