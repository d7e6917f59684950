/**
 * Where each flag's value comes from: the command line, an MTP_* variable, the --config file
 * (YAML or JSON), or the table's default, in that order of precedence. Unknown MTP_* variables
 * and unknown --config keys are refused, naming the key and the closest flag.
 */
import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../core/errors';
import { camelName, envName, type FlagSpec } from './flags';
import * as P from './parse';

export type Source = 'flag' | 'env' | 'file' | 'default';

export interface Origin {
  source: Source;
  /** The variable (MTP_BACKEND) or the file the value came from. */
  where?: string;
}

export interface ResolvedFlags {
  /** By flag name (kebab-case): the raw value of the winning source, or the default. */
  values: Record<string, unknown>;
  origins: Record<string, Origin>;
}

export interface ConfigFile {
  path: string;
  /** By flag name (kebab-case). */
  values: Record<string, unknown>;
}

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length];
}

export function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

function names(known: readonly FlagSpec[], inFile: boolean): string[] {
  return [...new Set(known.filter((f) => !(inFile && f.commandLineOnly)).map((f) => f.name))];
}

/** camelCase keys (as yargs' config files allowed) become flag names. */
function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Refuses MTP_* variables that are no flag of any subcommand. */
export function checkEnvironment(env: NodeJS.ProcessEnv, known: readonly FlagSpec[]): void {
  const valid = names(known, false);
  const byEnv = new Set(valid.map(envName));
  for (const variable of Object.keys(env).sort()) {
    if (!variable.startsWith('MTP_') || byEnv.has(variable)) continue;
    const guess = closest(variable.slice(4).toLowerCase().replace(/_/g, '-'), valid);
    throw new ConfigError(
      `unknown environment variable ${variable}${guess ? ` (did you mean ${envName(guess)} for --${guess}?)` : ''}`,
    );
  }
}

/** Reads a --config file: YAML (JSON is YAML too; .json files are parsed as JSON). */
export function readConfigFile(path: string, known: readonly FlagSpec[]): ConfigFile {
  let parsed: unknown;
  try {
    const text = fs.readFileSync(path, 'utf8');
    parsed = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(`--config ${path}: ${String(reason).replace(/\s*\n\s*/g, ' ')}`);
  }
  if (parsed === null || parsed === undefined) return { path, values: {} };
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`--config ${path}: expected a mapping of flag names to values`);
  }
  const valid = names(known, true);
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed)) {
    const name = kebab(key);
    if (!valid.includes(name)) {
      const guess = closest(name, valid);
      throw new ConfigError(
        `--config ${path}: unknown key '${key}'${guess ? ` (did you mean '${guess}'?)` : ''}`,
      );
    }
    values[name] = value;
  }
  return { path, values };
}

export interface FlagSources {
  /** What yargs parsed from the command line (no defaults applied). */
  argv: Record<string, unknown>;
  env: NodeJS.ProcessEnv;
  file?: ConfigFile;
}

/** Picks each flag's value: flag > env > file > default. */
export function resolveFlags(flags: readonly FlagSpec[], sources: FlagSources): ResolvedFlags {
  const values: Record<string, unknown> = {};
  const origins: Record<string, Origin> = {};
  for (const flag of flags) {
    const fromArgv = sources.argv[flag.name] ?? sources.argv[camelName(flag.name)];
    const env = envName(flag.name);
    let origin: Origin;
    let value: unknown;
    if (fromArgv === '' && flag.bareValue !== undefined)
      [value, origin] = [flag.bareValue, { source: 'flag' }];
    else if (fromArgv !== undefined) [value, origin] = [fromArgv, { source: 'flag' }];
    else if (sources.env[env] !== undefined)
      [value, origin] = [sources.env[env], { source: 'env', where: env }];
    else if (sources.file && sources.file.values[flag.name] !== undefined)
      [value, origin] = [sources.file.values[flag.name], { source: 'file', where: sources.file.path }];
    else [value, origin] = [flag.default, { source: 'default' }];
    values[flag.name] = value;
    origins[flag.name] = origin;
  }
  return { values, origins };
}

export function describeOrigin(origin: Origin): string {
  return origin.where ? `${origin.source} ${origin.where}` : origin.source;
}

/** Types a non-serve flag's value (env strings, YAML scalars) and checks its choices. */
export function typedValue(flag: FlagSpec, value: unknown): unknown {
  const name = `--${flag.name}`;
  if (value === undefined) return undefined;
  let typed: unknown;
  if (flag.type === 'number') typed = P.num(value, undefined, name);
  else if (flag.type === 'boolean') typed = P.bool(value, false, name);
  else if (flag.type === 'list') typed = P.list(value);
  else typed = String(Array.isArray(value) ? value[value.length - 1] : value);
  const items = Array.isArray(typed) ? typed : [typed];
  if (flag.choices && items.some((item) => !flag.choices!.includes(String(item)))) {
    const bad = items.find((item) => !flag.choices!.includes(String(item)));
    throw new ConfigError(`${name} must be one of ${flag.choices.join(', ')}, got '${String(bad)}'`);
  }
  return flag.coerce ? flag.coerce(typed as never) : typed;
}
