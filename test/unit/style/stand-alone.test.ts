/**
 * The repository stands alone: no tracked file points at documents outside it (a sibling
 * `shared` folder, an interface description kept elsewhere). Comments and docs state the fact
 * itself instead, so a reader of this repository alone has everything.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, trackedFiles } from '../../helpers/repo-files';

// Built from pieces so that this file does not match itself.
const FORBIDDEN = [['..', 'shared'].join('/'), ['interface', 'md'].join('.')];

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
