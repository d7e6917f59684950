/**
 * Watches files for changes (certificates, the allow file), so a renewed certificate or an edited
 * list is picked up without SIGHUP. Generic: a leaf, used by tls/ and policy/.
 *
 * Each file's DIRECTORY is watched (fs.watch), not the file: renewal tools (certbot, cert-manager,
 * `certs --keep-ca`, `mv new.pem server.pem`) replace files by atomic rename, and a watch on the
 * file itself would keep watching the old, unlinked inode. Directory events are filtered by base
 * name; in-place writes ('change') and renames ('rename') both count. A directory where a watched
 * name is a symlink (Kubernetes Secret/ConfigMap volumes swap a `..data` symlink) reacts to every
 * event, because the name that changes is not the file's own.
 *
 * Events are debounced: a writer that replaces key and certificate one after the other, or writes
 * a file in several chunks, causes one callback after things have been quiet for `debounceMs`.
 * The callback only says "something changed"; the caller re-reads and validates everything.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface FileWatcher {
  /** Stops watching; a pending debounced callback is dropped. Idempotent. */
  close(): void;
}

export interface WatchOptions {
  /** Quiet time after the last event before onChange runs. Default 300 ms. */
  debounceMs?: number;
  /** A directory that cannot be watched (missing, no permission, watch limit reached). */
  onError?: (error: Error, directory: string) => void;
}

export const DEFAULT_DEBOUNCE_MS = 300;

export function watchFiles(
  files: ReadonlyArray<string>,
  onChange: (changed: string[]) => void,
  options: WatchOptions = {},
): FileWatcher {
  const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const byDirectory = new Map<string, Set<string>>();
  for (const file of files) {
    const absolute = path.resolve(file);
    const dir = path.dirname(absolute);
    const names = byDirectory.get(dir) ?? new Set<string>();
    names.add(path.basename(absolute));
    byDirectory.set(dir, names);
  }

  let timer: NodeJS.Timeout | undefined;
  let changed = new Set<string>();
  let closed = false;
  const watchers: fs.FSWatcher[] = [];

  const schedule = (file: string): void => {
    if (closed) return;
    changed.add(file);
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      const batch = [...changed];
      changed = new Set();
      if (!closed) onChange(batch);
    }, debounceMs);
    timer.unref();
  };

  for (const [dir, names] of byDirectory) {
    const anyEvent = [...names].some((name) => isSymlink(path.join(dir, name)));
    let watcher: fs.FSWatcher;
    try {
      watcher = fs.watch(dir, { persistent: false }, (_event, filename) => {
        const name = filename === null ? null : filename.toString();
        // No name (some platforms) or a symlinked file: any event may concern our files.
        if (name === null || anyEvent) schedule(name === null ? dir : path.join(dir, name));
        else if (names.has(name)) schedule(path.join(dir, name));
      });
    } catch (error) {
      options.onError?.(error as Error, dir);
      continue;
    }
    watcher.on('error', (error: Error) => options.onError?.(error, dir));
    watchers.push(watcher);
  }

  return {
    close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      for (const watcher of watchers) watcher.close();
    },
  };
}

function isSymlink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}
