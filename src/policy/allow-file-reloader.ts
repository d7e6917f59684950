import fs from 'node:fs';
import type { Logger } from '../observability/logger';
import { ContentCheck, contentDigest } from '../tls/content-check';
import { watchFiles, type FileWatcher } from '../core/watch';
import type { AccessPolicy } from './access-policy';

export type AllowFileTrigger = 'sighup' | 'file_change' | 'interval';

export interface AllowFileReloader {
  /** Re-reads --allow-file now (SIGHUP); a bad file keeps the current list and logs why. */
  reload(trigger: AllowFileTrigger): void;
  /** The periodic check: reloads only when the file's bytes differ from the ones last read. */
  checkContent(): boolean;
  close(): void;
}

export interface AllowFileReloaderOptions {
  /** Period of the content check (--allow-file-reload-interval); 0 or absent: none. */
  contentCheckMs?: number;
}

function fileDigest(file: string): string {
  let content: Buffer | undefined;
  try {
    content = fs.readFileSync(file);
  } catch {
    content = undefined;
  }
  return contentDigest([content]);
}

/**
 * Keeps the access list in step with --allow-file: on SIGHUP, whenever the file changes
 * (in-place writes and atomic renames alike, see watchFiles), and when the periodic content check
 * finds other bytes than last read (changes no file event reported).
 */
export function startAllowFileReloader(
  policy: AccessPolicy,
  logger: Logger,
  options: AllowFileReloaderOptions = {},
): AllowFileReloader {
  const file = policy.allowFile;
  const content = new ContentCheck(file ? fileDigest(file) : '');
  const reload = (trigger: AllowFileTrigger): void => {
    if (!file) return;
    content.remember(fileDigest(file));
    try {
      const { entries } = policy.reload();
      logger.info(
        { event: 'allowlist_reloaded', file, entries, trigger },
        `access list reloaded from ${file}`,
      );
    } catch (error) {
      logger.error(
        { event: 'allowlist_reload_failed', file, trigger, error: (error as Error).message },
        'access list reload failed; keeping the previous list',
      );
    }
  };
  const checkContent = (): boolean => {
    if (!file || !content.changed(fileDigest(file))) return false;
    reload('interval');
    return true;
  };
  let watcher: FileWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (file) {
    watcher = watchFiles([file], () => reload('file_change'), {
      onError: (error, directory) =>
        logger.warn(
          { event: 'allowlist_watch_failed', directory, error: error.message },
          'cannot watch --allow-file; SIGHUP still reloads it',
        ),
    });
    if (options.contentCheckMs) {
      timer = setInterval(checkContent, options.contentCheckMs);
      timer.unref();
    }
  }
  const close = (): void => {
    watcher?.close();
    if (timer) clearInterval(timer);
  };
  return { reload, checkContent, close };
}
