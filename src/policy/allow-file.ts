import fs from 'node:fs';
import { parseCidr, type Cidr } from './cidr';
import { ipv4MappedProblem } from './ipv4-mapped';

/** A bad --allow-file: names the file and line so the operator can fix it. */
export class AllowFileError extends Error {
  readonly code = 'MTP_ALLOW_FILE';
}

/**
 * One CIDR (or bare address) per line; `#` starts a comment; blank lines are ignored.
 * The whole file is refused if any line is invalid: a half-applied access list is worse than the old one.
 */
export function parseAllowFile(text: string, path: string): Cidr[] {
  const cidrs: Cidr[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const where = `${path}:${index + 1}: '${line}'`;
    const cidr = parseCidr(line);
    if (!cidr) throw new AllowFileError(`${where} is not a valid CIDR`);
    const problem = ipv4MappedProblem(cidr);
    if (problem) throw new AllowFileError(`${where} ${problem}`);
    cidrs.push(cidr);
  });
  return cidrs;
}

export function readAllowFile(path: string): Cidr[] {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (error) {
    throw new AllowFileError(
      `cannot read --allow-file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  return parseAllowFile(text, path);
}
