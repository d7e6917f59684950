/**
 * Strictness for what the user typed, not for what the environment holds: MTP_* variables and a
 * shared --config file may carry keys of other subcommands (MTP_BACKEND while running `certs`),
 * which must not make a command fail, while a typo on the command line must.
 */
export function unknownFlags(args: readonly string[], known: ReadonlySet<string>): string[] {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end))
    .filter((arg) => arg.startsWith('-') && arg !== '-' && !/^-\d/.test(arg))
    .flatMap((arg) => (arg.startsWith('--') ? [arg.slice(2).split('=')[0]] : [...arg.slice(1).split('=')[0]]))
    .filter((name) => {
      const plain = name.replace(/^no-/, '');
      const kebab = plain.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      return !known.has(plain) && !known.has(kebab);
    });
}
