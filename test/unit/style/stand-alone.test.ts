/**
 * The repository stands alone: no tracked file points at documents outside it (a sibling
 * `shared` folder, an interface description kept elsewhere). Comments and docs state the fact
 * itself instead, so a reader of this repository alone has everything.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');

// Built from pieces so that this file does not match itself.
const FORBIDDEN = [['..', 'shared'].join('/'), ['interface', 'md'].join('.')];

const SKIPPED_DIRS = new Set(['.git', 'node_modules', 'dist', 'coverage', 'certs']);

/** Files outside git (an exported tree, a tarball): everything but build output and dependencies. */
function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory()) return SKIPPED_DIRS.has(entry.name) ? [] : walk(path.join(dir, entry.name));
    return entry.isFile() ? [path.relative(ROOT, path.join(dir, entry.name))] : [];
  });
}

/** Tracked files plus new ones not yet added (but not ignored ones), so a check fails before a commit. */
export function trackedFiles(): string[] {
  try {
    const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    return out.split('\0').filter((file) => file && fs.existsSync(path.join(ROOT, file)));
  } catch {
    return walk(ROOT);
  }
}

/** `file:line: text` for every line that names a forbidden reference. */
function offendingLines(file: string, text: string): string[] {
  return text
    .split('\n')
    .flatMap((line, index) =>
      FORBIDDEN.some((needle) => line.toLowerCase().includes(needle))
        ? [`${file}:${index + 1}: ${line.trim()}`]
        : [],
    );
}

it('lists the repository files (README.md, package.json, this test among them)', () => {
  const files = trackedFiles();
  expect(files).toEqual(
    expect.arrayContaining(['README.md', 'package.json', 'test/unit/style/stand-alone.test.ts']),
  );
});

it('has no file that refers to a shared folder or interface document outside the repository', () => {
  const offending = trackedFiles().flatMap((file) =>
    offendingLines(file, fs.readFileSync(path.join(ROOT, file), 'utf8')),
  );
  expect(offending).toEqual([]);
});

it('catches such a reference in any case, with its line number', () => {
  const text = `ok\n/** Labels: see ${FORBIDDEN[0].toUpperCase()}/x */\nok\nper ${FORBIDDEN[1]}`;
  expect(offendingLines('a.ts', text)).toEqual([
    `a.ts:2: /** Labels: see ${FORBIDDEN[0].toUpperCase()}/x */`,
    `a.ts:4: per ${FORBIDDEN[1]}`,
  ]);
});
