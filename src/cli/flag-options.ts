/**
 * The flag table turned into yargs options (no defaults: what yargs parses is only what the user
 * typed, so the sources can be told apart) and the middleware that fills in MTP_* variables, the
 * --config file and the defaults, for every subcommand alike.
 */
import type { Argv } from 'yargs';
import { camelName, type CommandName, type FlagSpec, type FlagValue } from '../config/flags';
import {
  checkEnvironment,
  readConfigFile,
  resolveFlags,
  typedValue,
  type ResolvedFlags,
} from '../config/load';

function shown(value: FlagValue): string {
  return Array.isArray(value) ? value.join(',') : String(value);
}

/** Declares the command's flags from the table. */
export function addFlags<T>(yargs: Argv<T>, command: CommandName, flags: readonly FlagSpec[]): Argv<T> {
  for (const flag of flags) {
    if (!flag.commands.includes(command) || flag.name === 'config') continue;
    yargs.option(flag.name, {
      type: flag.type === 'list' ? 'string' : flag.type,
      array: flag.type === 'list' ? true : undefined,
      alias: flag.alias,
      choices: flag.choices as string[] | undefined,
      describe: flag.describeFor?.[command] ?? flag.describe,
      group: flag.group,
      defaultDescription:
        flag.defaultDescription ?? (flag.default === undefined ? undefined : shown(flag.default)),
    });
  }
  return yargs;
}

const resolvedByArgv = new WeakMap<object, ResolvedFlags>();

/** What the middleware resolved for this parse (serve --check-config prints the origins). */
export function resolvedFlags(argv: object): ResolvedFlags | undefined {
  return resolvedByArgv.get(argv);
}

/**
 * Fills argv with each flag's value (flag > MTP_* > --config file > default). serve's own flags
 * stay raw (buildServeConfig parses them); every other flag is typed here. Throws ConfigError for
 * unknown MTP_* variables or --config keys (any subcommand's flag is known: files and environments
 * are shared between subcommands).
 */
export function applySources(
  argv: Record<string, unknown>,
  command: CommandName,
  all: readonly FlagSpec[],
  env: NodeJS.ProcessEnv = process.env,
): void {
  checkEnvironment(env, all);
  const configPath = (argv.config as string | undefined) ?? env.MTP_CONFIG;
  const file = configPath ? readConfigFile(configPath, all) : undefined;
  const flags = all.filter((flag) => flag.commands.includes(command) && flag.name !== 'config');
  const resolved = resolveFlags(flags, { argv, env, file });
  for (const flag of flags) {
    const raw = resolved.values[flag.name];
    const value = command === 'serve' && flag.path ? raw : typedValue(flag, raw);
    argv[flag.name] = value;
    argv[camelName(flag.name)] = value;
  }
  resolvedByArgv.set(argv, resolved);
}
