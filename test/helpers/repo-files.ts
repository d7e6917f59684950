/** The repository's own files, for tests of repository-wide rules (test/unit/style/). */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');

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
