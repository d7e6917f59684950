/** --allow-file-reload-interval: the periodic content check of the allow file (fake timers, real file). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Logger } from '../../../src/observability/logger';
import { AccessPolicy } from '../../../src/policy/access-policy';
import { startAllowFileReloader } from '../../../src/policy/allow-file-reloader';

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'allow-file-reloader-'));
  file = path.join(dir, 'allow.txt');
  fs.writeFileSync(file, '127.0.0.1/32\n');
});
afterEach(() => {
  jest.useRealTimers();
  fs.rmSync(dir, { recursive: true, force: true });
});

function setup(contentCheckMs: number) {
  const events: Array<{ event: unknown; trigger: unknown }> = [];
  const at = () => (fields: Record<string, unknown>) =>
    events.push({ event: fields.event, trigger: fields.trigger });
  const logger = { info: at(), warn: at(), error: at(), debug: at() } as unknown as Logger;
  const policy = new AccessPolicy({ allow: [], allowFile: file, proxyProtocolFrom: [] });
  return { policy, events, reloader: startAllowFileReloader(policy, logger, { contentCheckMs }) };
}

it('reloads once when the bytes changed, and not at all while they stay', async () => {
  const { policy, events, reloader } = setup(0);
  expect(reloader.checkContent()).toBe(false);
  fs.writeFileSync(file, '127.0.0.1/32\n');
  expect(reloader.checkContent()).toBe(false); // same bytes
  expect(events).toEqual([]);
  fs.writeFileSync(file, '127.0.0.1/32\n10.0.0.0/8\n');
  expect(reloader.checkContent()).toBe(true);
  expect(policy.allowlist.allows('10.1.2.3')).toBe(true);
  expect(reloader.checkContent()).toBe(false);
  expect(events.filter((e) => e.event === 'allowlist_reloaded')).toEqual([
    { event: 'allowlist_reloaded', trigger: 'interval' },
  ]);
  reloader.close();
});

it('checks every interval, and tries a broken file once', async () => {
  jest.useFakeTimers();
  const { policy, events, reloader } = setup(10_000);
  fs.writeFileSync(file, '127.0.0.1/32\nnot-a-cidr\n');
  const failures = () => events.filter((e) => e.event === 'allowlist_reload_failed').length;
  await jest.advanceTimersByTimeAsync(20_000);
  // once by the content check, and maybe once more by the file watch (its event is real)
  const first = failures();
  expect(first === 1 || first === 2).toBe(true);
  await jest.advanceTimersByTimeAsync(50_000);
  expect(failures()).toBe(first); // not once per tick
  fs.writeFileSync(file, '192.168.0.0/16\n');
  await jest.advanceTimersByTimeAsync(10_000);
  expect(policy.allowlist.allows('192.168.1.1')).toBe(true);
  expect(policy.allowlist.allows('127.0.0.1')).toBe(false);
  reloader.close();
  fs.writeFileSync(file, '127.0.0.1/32\n');
  await jest.advanceTimersByTimeAsync(50_000);
  expect(policy.allowlist.allows('127.0.0.1')).toBe(false); // closed: no more checks
});
