import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { watchFiles, type FileWatcher } from '../../../src/core/watch';

const DEBOUNCE_MS = 60;
let dir: string;
let watcher: FileWatcher | undefined;
let calls: string[][];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'watch-test-'));
  fs.writeFileSync(path.join(dir, 'server.pem'), 'one');
  fs.writeFileSync(path.join(dir, 'server-key.pem'), 'one');
  calls = [];
});
afterEach(() => {
  watcher?.close();
  watcher = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function watch(files = ['server.pem', 'server-key.pem']): void {
  watcher = watchFiles(
    files.map((f) => path.join(dir, f)),
    (changed) => calls.push(changed),
    { debounceMs: DEBOUNCE_MS },
  );
}

/** Waits until `count` callbacks happened, then a little longer to catch extra ones. */
async function settle(count: number): Promise<void> {
  const deadline = Date.now() + 3_000;
  while (calls.length < count && Date.now() < deadline) await sleep(10);
  await sleep(DEBOUNCE_MS * 4);
}

it('reports an atomic rename over a watched file, debounced into one call', async () => {
  watch();
  const tmpKey = path.join(dir, '.key.tmp');
  const tmpCert = path.join(dir, '.cert.tmp');
  fs.writeFileSync(tmpKey, 'two');
  fs.writeFileSync(tmpCert, 'two');
  fs.renameSync(tmpKey, path.join(dir, 'server-key.pem'));
  fs.renameSync(tmpCert, path.join(dir, 'server.pem'));
  await settle(1);
  expect(calls).toHaveLength(1);
  expect(calls[0].sort()).toEqual([path.join(dir, 'server-key.pem'), path.join(dir, 'server.pem')].sort());
});

it('reports in-place writes, and keeps watching after a rename replaced the file', async () => {
  watch();
  fs.writeFileSync(path.join(dir, 'x.tmp'), 'two');
  fs.renameSync(path.join(dir, 'x.tmp'), path.join(dir, 'server.pem'));
  await settle(1);
  fs.writeFileSync(path.join(dir, 'server.pem'), 'three');
  await settle(2);
  expect(calls).toHaveLength(2);
  expect(calls[1]).toEqual([path.join(dir, 'server.pem')]);
});

it('ignores other files in the directory', async () => {
  watch();
  fs.writeFileSync(path.join(dir, 'ca-key.pem'), 'unrelated');
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'unrelated');
  await settle(0);
  expect(calls).toEqual([]);
});

it('reacts to any event in a directory whose watched file is a symlink (Kubernetes volumes)', async () => {
  fs.mkdirSync(path.join(dir, '..2024_01'));
  fs.writeFileSync(path.join(dir, '..2024_01', 'tls.crt'), 'one');
  fs.symlinkSync('..2024_01', path.join(dir, '..data'));
  fs.symlinkSync('..data/tls.crt', path.join(dir, 'tls.crt'));
  watch(['tls.crt']);
  fs.mkdirSync(path.join(dir, '..2024_02'));
  fs.writeFileSync(path.join(dir, '..2024_02', 'tls.crt'), 'two');
  fs.symlinkSync('..2024_02', path.join(dir, '..data_tmp'));
  fs.renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  await settle(1);
  expect(calls).toHaveLength(1);
});

it('calls nothing after close(), also for a change already pending', async () => {
  watch();
  fs.writeFileSync(path.join(dir, 'server.pem'), 'two');
  await sleep(DEBOUNCE_MS / 3);
  watcher!.close();
  watcher!.close(); // idempotent
  fs.writeFileSync(path.join(dir, 'server.pem'), 'three');
  await settle(0);
  expect(calls).toEqual([]);
});

it('reports a directory it cannot watch and still watches the others', async () => {
  const errors: string[] = [];
  watcher = watchFiles(
    [path.join(dir, 'missing-dir', 'server.pem'), path.join(dir, 'server.pem')],
    (changed) => calls.push(changed),
    { debounceMs: DEBOUNCE_MS, onError: (_error, directory) => errors.push(directory) },
  );
  expect(errors).toEqual([path.join(dir, 'missing-dir')]);
  fs.writeFileSync(path.join(dir, 'server.pem'), 'two');
  await settle(1);
  expect(calls).toHaveLength(1);
});
