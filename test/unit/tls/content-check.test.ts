import { ContentCheck, contentDigest } from '../../../src/tls/content-check';

const b = (text: string) => Buffer.from(text);

describe('contentDigest', () => {
  it('is the same for the same bytes and differs when any file differs', () => {
    const base = contentDigest([b('cert'), b('key'), b('ca')]);
    expect(contentDigest([b('cert'), b('key'), b('ca')])).toBe(base);
    expect(contentDigest([b('cert'), b('key'), b('cb')])).not.toBe(base);
    expect(contentDigest([b('cert '), b('key'), b('ca')])).not.toBe(base);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
  });

  it('tells moved bytes, a missing file and an empty file apart', () => {
    expect(contentDigest([b('ab'), b('c')])).not.toBe(contentDigest([b('a'), b('bc')]));
    expect(contentDigest([b('x'), undefined])).not.toBe(contentDigest([b('x'), b('')]));
    expect(contentDigest([undefined, b('x')])).not.toBe(contentDigest([b('x'), undefined]));
  });
});

describe('ContentCheck', () => {
  it('reports a change once, then stays quiet until the bytes change again', () => {
    const check = new ContentCheck('a');
    expect(check.changed('a')).toBe(false);
    expect(check.changed('b')).toBe(true);
    expect(check.changed('b')).toBe(false);
    expect(check.digest).toBe('b');
  });

  it('takes what another path acted upon as seen', () => {
    const check = new ContentCheck('a');
    check.remember('c');
    expect(check.changed('c')).toBe(false);
    expect(check.changed('a')).toBe(true);
  });
});
