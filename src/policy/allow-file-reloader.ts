import type { Logger } from '../observability/logger';
import { watchFiles, type FileWatcher } from '../core/watch';
import type { AccessPolicy } from './access-policy';

export interface AllowFileReloader {
  /** Re-reads --allow-file now (SIGHUP); a bad file keeps the current list and logs why. */
  reload(trigger: 'sighup' | 'file_change'): void;
  close(): void;
}

/**
 * Keeps the access list in step with --allow-file: on SIGHUP and whenever the file changes
 * (in-place writes and atomic renames alike, see watchFiles).
 */
export function startAllowFileReloader(policy: AccessPolicy, logger: Logger): AllowFileReloader {
  const file = policy.allowFile;
  const reload = (trigger: 'sighup' | 'file_change'): void => {
    if (!file) return;
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
  let watcher: FileWatcher | undefined;
  if (file) {
    watcher = watchFiles([file], () => reload('file_change'), {
      onError: (error, directory) =>
        logger.warn(
          { event: 'allowlist_watch_failed', directory, error: error.message },
          'cannot watch --allow-file; SIGHUP still reloads it',
        ),
    });
  }
  return { reload, close: () => watcher?.close() };
}
