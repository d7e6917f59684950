/**
 * Every relative link in README.md, SECURITY.md and docs/*.md points at a file of the repository,
 * and every #anchor at a heading of its target (GitHub's heading ids), so moving a section
 * cannot leave a dead link behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, trackedFiles } from '../../helpers/repo-files';

export function markdownFiles(): string[] {
  const docs = fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`);
  return ['README.md', 'SECURITY.md', ...docs];
}

/** Markdown without fenced code blocks and inline code, where brackets are not links. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** Targets of inline links `[text](target)` that are not URLs (https:, mailto:, ...). */
export function relativeLinks(markdown: string): string[] {
  const targets = [...prose(markdown).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map(
    (m) => m[1],
  );
  return targets.filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** GitHub's id for a heading: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function headingIds(markdown: string): Set<string> {
  const ids = new Set<string>();
  const seen = new Map<string, number>();
  for (const match of markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = match[1]
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    ids.add(count === 0 ? base : `${base}-${count}`);
  }
  return ids;
}

/** A description of each link in `file` that points nowhere. */
function deadLinks(file: string): string[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  return relativeLinks(text).flatMap((link) => {
    const [target, anchor] = link.split('#', 2);
    const resolved =
      target === '' ? path.join(ROOT, file) : path.resolve(path.dirname(path.join(ROOT, file)), target);
    if (!resolved.startsWith(ROOT + path.sep) || !fs.existsSync(resolved))
      return [`${file}: ${link} (no such file)`];
    if (anchor === undefined || !resolved.endsWith('.md')) return [];
    const ids = headingIds(fs.readFileSync(resolved, 'utf8'));
    return ids.has(decodeURIComponent(anchor)) ? [] : [`${file}: ${link} (no such heading)`];
  });
}

it('finds the documentation: README.md and several docs/*.md', () => {
  expect(markdownFiles().length).toBeGreaterThan(5);
});

it('has no dead relative link or anchor in README.md, SECURITY.md and docs/*.md', () => {
  expect(markdownFiles().flatMap(deadLinks)).toEqual([]);
});

it('links README.md to every file in docs/', () => {
  const readme = relativeLinks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')).map(
    (l) => l.split('#')[0],
  );
  const unlinked = markdownFiles()
    .filter((file) => file.startsWith('docs/'))
    .filter((file) => !readme.includes(file));
  expect(unlinked).toEqual([]);
});

it('names only existing docs/*.md pages anywhere in the repository (comments, scripts, manifests)', () => {
  const named = trackedFiles().flatMap((file) =>
    [...fs.readFileSync(path.join(ROOT, file), 'utf8').matchAll(/\bdocs\/([a-z0-9-]+\.md)\b/g)].map((m) => ({
      file,
      page: `docs/${m[1]}`,
    })),
  );
  expect(named.length).toBeGreaterThan(0);
  expect(named.filter(({ page }) => !fs.existsSync(path.join(ROOT, page)))).toEqual([]);
});

describe('the link checker itself', () => {
  it('takes relative links and skips URLs, code spans and code blocks', () => {
    const text = [
      'See [a](guide/a.md#x), [b](../b.md "title") and [web](https://example.com/c.md).',
      '`[not](a-link.md)`',
      '```',
      '[also not](code.md)',
      '```',
      '[anchor only](#here)',
    ].join('\n');
    expect(relativeLinks(text)).toEqual(['guide/a.md#x', '../b.md', '#here']);
  });

  it('derives GitHub heading ids, punctuation and code marks dropped, repeats numbered', () => {
    const text = '# Load-testing handshakes: `bench`\n## What VERIFY_IDENTITY needs\n## Logs\n## Logs\n';
    expect([...headingIds(text)]).toEqual([
      'load-testing-handshakes-bench',
      'what-verify_identity-needs',
      'logs',
      'logs-1',
    ]);
  });
});
