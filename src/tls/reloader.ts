/**
 * Hot reload of the served certificate, chain, key and CA: on SIGHUP, when the directory reports a
 * change (unless --no-cert-watch), and when a periodic content check (--cert-reload-interval)
 * finds other bytes than last time, for the changes no file event reports (NFS, overlay file
 * systems, a full inotify watch table).
 *
 * - A reload re-reads and validates everything (loadCredentials); only a complete, matching set
 *   is swapped in. New handshakes get it, established sessions keep theirs. A broken, mismatched
 *   or unreadable file keeps the previous certificate, logs why and counts
 *   certificate_reloads_total{result="error"}.
 * - Files identical to the ones being served (an unrelated file in the same directory changed,
 *   an editor touched the file, a SIGHUP without a renewal) change nothing: logged at debug as
 *   `certificate_unchanged` and NOT counted, so `result="ok"` counts real certificate changes.
 *   The periodic check is quieter still: it hashes the bytes and does nothing at all (no parsing,
 *   no log line) while they are the ones last seen, and tries a broken set once, not every tick.
 * - Reloads are serialized: a request while one runs queues at most one more, which reads the
 *   files after the running one is done.
 * - certificate_expiry_timestamp_seconds always shows the served certificate's notAfter,
 *   certificate_info its identity (one series, replaced on reload) and
 *   certificate_last_reload_timestamp_seconds when it was put into service. The remaining
 *   validity is checked at startup (an expired certificate is reported loudly), after every
 *   reload that changed the certificate, and once a day.
 */
import fs from 'node:fs';
import type { Logger } from '../observability/logger';
import type { ProxyMetrics } from '../observability/metrics';
import {
  loadCredentials,
  sameCredentials,
  type CredentialPaths,
  type LoadedCredentials,
  type TlsPolicy,
} from './credentials';
import { ContentCheck, contentDigest, type FileContent } from './content-check';
import { DEFAULT_DEBOUNCE_MS, watchFiles, type FileWatcher } from '../core/watch';

export type ReloadTrigger = 'sighup' | 'file_change' | 'interval' | 'api';
export type ReloadOutcome = 'reloaded' | 'unchanged' | 'error';

export const DAY_MS = 86_400_000;
/** Below this much validity left, a warning is logged (daily and on every reload). */
export const EXPIRY_WARNING_MS = 14 * DAY_MS;

export interface ReloaderDeps {
  paths: CredentialPaths;
  policy: TlsPolicy;
  logger: Logger;
  metrics: Pick<ProxyMetrics, 'certificateServed' | 'certificateReloads'>;
  /** Puts new credentials into service (the TLS terminator, /ca.pem). */
  apply(next: LoadedCredentials): void;
}

export interface ReloaderOptions {
  /** Watch the certificate, key and CA files. Default true. */
  watch?: boolean;
  debounceMs?: number;
  /** How often the expiry check runs. Default one day. */
  expiryCheckMs?: number;
  /** Period of the content check (--cert-reload-interval); 0 or absent: none. */
  contentCheckMs?: number;
}

export class CertificateReloader {
  private served: LoadedCredentials;
  private chain: Promise<unknown> = Promise.resolve();
  private queued: Promise<ReloadOutcome> | undefined;
  private watcher: FileWatcher | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private contentTimer: NodeJS.Timeout | undefined;
  private readonly content: ContentCheck;
  /** Digest of the bytes being served, to tell unchanged files without parsing them. */
  private servedDigest: string;
  private closed = false;

  constructor(
    private readonly deps: ReloaderDeps,
    initial: LoadedCredentials,
  ) {
    this.served = initial;
    this.servedDigest = servedDigest(initial);
    this.content = new ContentCheck(this.servedDigest);
    deps.metrics.certificateServed(initial);
  }

  get current(): LoadedCredentials {
    return this.served;
  }

  /** Startup report, file watching, the content check and the daily expiry check. */
  start(options: ReloaderOptions = {}): void {
    this.reportExpiry(true);
    this.reportWarnings(this.served);
    if (options.watch !== false) this.watch(options.debounceMs);
    if (options.contentCheckMs) {
      this.contentTimer = setInterval(() => void this.checkContent(), options.contentCheckMs);
      this.contentTimer.unref();
    }
    this.expiryTimer = setInterval(() => this.reportExpiry(false), options.expiryCheckMs ?? DAY_MS);
    this.expiryTimer.unref();
  }

  /**
   * The periodic check: reloads only when the files' bytes differ from the ones last seen (served,
   * or found broken); otherwise does nothing, not even a log line.
   */
  checkContent(): Promise<ReloadOutcome> {
    if (this.closed || !this.content.changed(contentDigest(this.readFiles()))) {
      return Promise.resolve('unchanged');
    }
    return this.reload('interval');
  }

  private watch(debounceMs = DEFAULT_DEBOUNCE_MS): void {
    const { paths, logger } = this.deps;
    const files = [paths.cert, paths.key, ...(paths.caFile ? [paths.caFile] : [])];
    this.watcher = watchFiles(files, () => void this.reload('file_change'), {
      debounceMs,
      onError: (error, directory) =>
        logger.warn(
          { event: 'certificate_watch_failed', directory, error: error.message },
          `cannot watch ${directory} for certificate changes (${error.message}); reload with SIGHUP`,
        ),
    });
  }

  /** The configured files as they are now (undefined: missing or unreadable). */
  private readFiles(): FileContent[] {
    const { cert, key, caFile } = this.deps.paths;
    return [cert, key, caFile].map((file) => (file === undefined ? undefined : readIfPresent(file)));
  }

  /** Re-reads all files; serialized, and coalesced while one is waiting to run. */
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    if (this.queued) return this.queued;
    const next = this.chain.then(() => {
      this.queued = undefined;
      return this.attempt(trigger);
    });
    this.queued = next;
    this.chain = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    this.expiryTimer = undefined;
    if (this.contentTimer) clearInterval(this.contentTimer);
    this.contentTimer = undefined;
  }

  /**
   * Files with the very bytes being served are not even parsed (no secure context is built): only
   * a debug line. Otherwise the set is loaded and validated, and swapped in when complete.
   */
  private attempt(trigger: ReloadTrigger): ReloadOutcome {
    if (this.closed) return 'unchanged';
    const digest = contentDigest(this.readFiles());
    this.content.remember(digest); // the periodic check acts once on each content
    if (digest === this.servedDigest) return this.unchanged(trigger);
    const next = this.load(trigger);
    if (!next) return 'error';
    if (sameCredentials(this.served, next)) return this.unchanged(trigger);
    this.swapIn(next, trigger);
    return 'reloaded';
  }

  private unchanged(trigger: ReloadTrigger): ReloadOutcome {
    this.deps.logger.debug(
      { event: 'certificate_unchanged', trigger, serial: this.served.serialNumber },
      'certificate files unchanged',
    );
    return 'unchanged';
  }

  /** The files as a validated set, or undefined (logged and counted) when they are not one. */
  private load(trigger: ReloadTrigger): LoadedCredentials | undefined {
    const { logger, metrics } = this.deps;
    try {
      return loadCredentials(this.deps.paths, this.deps.policy);
    } catch (error) {
      const serial = this.served.serialNumber;
      metrics.certificateReloads.inc({ result: 'error' });
      logger.error(
        { event: 'certificate_reload_failed', trigger, error: (error as Error).message, serial },
        `certificate reload failed, still serving serial ${serial}: ${(error as Error).message}`,
      );
      return undefined;
    }
  }

  private swapIn(next: LoadedCredentials, trigger: ReloadTrigger): void {
    const { logger, metrics } = this.deps;
    const previous = this.served;
    this.deps.apply(next);
    this.served = next;
    this.servedDigest = servedDigest(next);
    metrics.certificateServed(next);
    metrics.certificateReloads.inc({ result: 'ok' });
    logger.info(
      {
        event: 'certificate_reloaded',
        trigger,
        serial: next.serialNumber,
        previous_serial: previous.serialNumber,
        subject: next.subject,
        sans: next.sans,
        not_after: next.notAfter.toISOString(),
        fingerprint_sha256: next.fingerprintSha256,
        ca_changed: !sameBuffer(previous.ca, next.ca),
      },
      `certificate reloaded (serial ${next.serialNumber}, valid until ${next.notAfter.toISOString()}); new connections use it`,
    );
    this.reportExpiry(false);
    this.reportWarnings(next);
  }

  private reportWarnings(credentials: LoadedCredentials): void {
    for (const warning of credentials.warnings ?? []) {
      this.deps.logger.warn({ event: 'certificate_warning', warning }, warning);
    }
  }

  /** Logs when the served certificate has expired or expires within 14 days. */
  reportExpiry(startup: boolean, now = Date.now()): void {
    reportExpiry(this.served, this.deps.logger, startup, now);
  }
}

export function reportExpiry(
  credentials: LoadedCredentials,
  logger: Logger,
  startup: boolean,
  now = Date.now(),
): void {
  const left = credentials.notAfter.getTime() - now;
  const fields = {
    event: 'certificate_expiry',
    serial: credentials.serialNumber,
    not_after: credentials.notAfter.toISOString(),
    days_left: Math.floor(left / DAY_MS),
  };
  if (left <= 0) {
    const message = `the server certificate EXPIRED on ${credentials.notAfter.toISOString()}: clients that verify it will refuse to connect`;
    logger.error(fields, message);
    // At startup also on stderr: an operator watching the terminal must not miss it in JSON lines.
    if (startup) process.stderr.write(`mysql-tls-proxy: WARNING: ${message}\n`);
  } else if (left < EXPIRY_WARNING_MS) {
    logger.warn(
      fields,
      `the server certificate expires in ${Math.ceil(left / DAY_MS)} days (${credentials.notAfter.toISOString()})`,
    );
  }
}

/** Digest of the bytes being served, comparable with the files' (a CA not configured: absent). */
function servedDigest(credentials: LoadedCredentials): string {
  return contentDigest([credentials.cert, credentials.key, credentials.ca]);
}

function readIfPresent(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

function sameBuffer(a?: Buffer, b?: Buffer): boolean {
  return a && b ? a.equals(b) : a === b;
}
