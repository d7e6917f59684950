/**
 * "Did these files change?" by their bytes, not by file-system events or modification times:
 * events get lost (network and overlay file systems, a watch limit, a directory swapped under a
 * Kubernetes volume) and mtimes lie (copies that keep them, clocks). Pure: the caller reads the
 * files and hands the bytes over.
 */
import crypto from 'node:crypto';

/** One file's bytes, or undefined when it does not exist (a missing optional CA file). */
export type FileContent = Buffer | undefined;

/**
 * SHA-256 over the files in order, each prefixed by its length (and a missing file marked apart
 * from an empty one), so moving bytes from one file to the next also changes the digest.
 */
export function contentDigest(files: ReadonlyArray<FileContent>): string {
  const hash = crypto.createHash('sha256');
  for (const content of files) {
    const header = Buffer.alloc(9);
    header.writeUInt8(content === undefined ? 0 : 1, 0);
    header.writeBigUInt64BE(BigInt(content?.length ?? 0), 1);
    hash.update(header);
    if (content) hash.update(content);
  }
  return hash.digest('hex');
}

/**
 * Remembers the digest last acted upon, so a periodic check acts once per change: an unchanged
 * set is left alone, and a broken set is tried once rather than at every tick until it is fixed.
 */
export class ContentCheck {
  constructor(private seen: string) {}

  /** True (and remembered) when the digest differs from the one last seen. */
  changed(digest: string): boolean {
    if (digest === this.seen) return false;
    this.seen = digest;
    return true;
  }

  /** Another path (SIGHUP, a file event) acted upon this content. */
  remember(digest: string): void {
    this.seen = digest;
  }

  get digest(): string {
    return this.seen;
  }
}
