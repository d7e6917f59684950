/**
 * `npm install git+https://...` (or git+file://): npm clones the repository, installs its
 * dependencies, runs its `prepare` script, and packs the result. The repository has no dist/, so
 * `prepare` must build it, or the installed bin points at nothing. This test makes a git
 * repository of the current sources (a copy, committed), installs it by a git+file:// URL into an
 * empty project, and runs the installed bin.
 */
import { existsSync, promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCommand, type CommandResult } from '../helpers/run-command';

const ROOT = path.resolve(__dirname, '../..');

const exec = (file: string, args: string[], cwd: string, timeoutMs = 300_000): Promise<CommandResult> =>
  runCommand(file, args, cwd, timeoutMs);

async function ok(file: string, args: string[], cwd: string): Promise<CommandResult> {
  const result = await exec(file, args, cwd);
  if (result.code !== 0)
    throw new Error(`${file} ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return result;
}

let work: string;
let installed: string;
let installMs = 0;

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-git-install-'));
  const repo = path.join(work, 'repo');
  await fs.cp(ROOT, repo, {
    recursive: true,
    filter: (source) => !/^(node_modules|dist|\.git|coverage|certs)$/.test(path.relative(ROOT, source)),
  });
  const git = ['-c', 'user.name=test', '-c', 'user.email=test@example.invalid'];
  await ok('git', ['init', '--quiet'], repo);
  await ok('git', ['add', '-A'], repo);
  await ok('git', [...git, 'commit', '--quiet', '-m', 'sources'], repo);

  const project = path.join(work, 'project');
  await fs.mkdir(project);
  await fs.writeFile(path.join(project, 'package.json'), '{ "name": "empty", "private": true }\n');
  const started = Date.now();
  await ok('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', `git+file://${repo}`], project);
  installMs = Date.now() - started;
  installed = path.join(project, 'node_modules', 'mysql-tls-proxy');
}, 600_000);

afterAll(async () => {
  process.stdout.write(`git install took ${installMs} ms\n`);
  if (work) await fs.rm(work, { recursive: true, force: true });
});

it('builds dist/ through prepare: the bin runs --help', async () => {
  expect(existsSync(path.join(installed, 'dist', 'cli', 'index.js'))).toBe(true);
  // packed by the package's "files": the sources stay behind
  expect(existsSync(path.join(installed, 'src'))).toBe(false);
  const bin = path.join(installed, '..', '.bin', 'mysql-tls-proxy');
  const help = await exec(bin, ['--help'], work, 30_000);
  expect(help.code).toBe(0);
  for (const command of ['serve', 'certs', 'connect-info', 'check']) expect(help.stdout).toContain(command);
  const serveHelp = await exec(bin, ['serve', '--help'], work, 30_000);
  expect(serveHelp.stdout).toContain('--cert-reload-interval');
});
