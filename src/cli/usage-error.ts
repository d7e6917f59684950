/** Bad configuration or usage: one line on stderr, exit code 2. */
export function usageError(message: string): void {
  process.stderr.write(`mysql-tls-proxy: ${message}\n`);
  process.exitCode = 2;
}
