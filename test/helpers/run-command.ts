/**
 * Runs a command to completion for the packaging tests (npm pack/install, the installed bin,
 * systemd-analyze): never rejects, returns its exit code and output.
 */
import { execFile } from 'child_process';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCommand(
  file: string,
  args: string[],
  cwd: string,
  timeoutMs: number,
): Promise<CommandResult> {
  // What the npm running this test put in the environment (its lifecycle, package) stays out.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !/^npm_(lifecycle_|package_|config_local_prefix)/.test(key),
    ),
  );
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}
