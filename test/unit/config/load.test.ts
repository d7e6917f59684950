import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../../src/config/errors';
import { GLOBAL_FLAGS, SERVE_FLAGS, envName, type FlagSpec } from '../../../src/config/flags';
import { checkEnvironment, closest, readConfigFile, resolveFlags } from '../../../src/config/load';
import { buildServeConfig } from '../../../src/config/serve-config';

const FLAGS: readonly FlagSpec[] = [...GLOBAL_FLAGS, ...SERVE_FLAGS];

function write(name: string, text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mtp-load-')), name);
  fs.writeFileSync(file, text);
  return file;
}

describe('the flag table', () => {
  it('declares each flag once, with its env name and (serve) its place in the config', () => {
    const names = SERVE_FLAGS.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    expect(envName('max-connections')).toBe('MTP_MAX_CONNECTIONS');
    for (const flag of SERVE_FLAGS as readonly FlagSpec[]) {
      if (!flag.commandLineOnly) expect(flag.path).toMatch(/^(listen|backend|tls|access|status|log)\./);
    }
  });
});

describe('sources', () => {
  it('takes flag > env > file > default and says where each came from', () => {
    const file = {
      path: 'proxy.yaml',
      values: { backend: '10.0.0.1:3306', 'max-connections': 7, workers: 3 },
    };
    const resolved = resolveFlags(SERVE_FLAGS, {
      argv: { backend: '10.0.0.2:3306' },
      env: { MTP_MAX_CONNECTIONS: '9' },
      file,
    });
    expect(resolved.values).toMatchObject({ backend: '10.0.0.2:3306', 'max-connections': '9', workers: 3 });
    expect(resolved.origins.backend).toEqual({ source: 'flag' });
    expect(resolved.origins['max-connections']).toEqual({ source: 'env', where: 'MTP_MAX_CONNECTIONS' });
    expect(resolved.origins.workers).toEqual({ source: 'file', where: 'proxy.yaml' });
    expect(resolved.origins.listen).toEqual({ source: 'default' });
    const config = buildServeConfig(resolved.values);
    expect(config.listen.maxConnections).toBe(9);
    expect(config.backend.address).toEqual({ host: '10.0.0.2', port: 3306 });
  });

  it('reads a bare --require-secure-transport as on, over env and file', () => {
    const resolved = resolveFlags(SERVE_FLAGS, {
      argv: { 'require-secure-transport': '' },
      env: { MTP_REQUIRE_SECURE_TRANSPORT: 'warn' },
      file: { path: 'proxy.yaml', values: { 'require-secure-transport': 'warn' } },
    });
    expect(resolved.values['require-secure-transport']).toBe('on');
    expect(buildServeConfig(resolved.values).access.requireSecureTransport).toBe(true);
    const fromEnv = resolveFlags(SERVE_FLAGS, { argv: {}, env: { MTP_REQUIRE_SECURE_TRANSPORT: 'warn' } });
    expect(buildServeConfig(fromEnv.values).access.requireSecureTransport).toBe('warn');
  });

  it('reads YAML and JSON, kebab-case or camelCase keys', () => {
    const yaml = readConfigFile(write('p.yaml', 'backend: db:3306\nallow: [10.0.0.0/8]\n'), FLAGS);
    expect(yaml.values).toEqual({ backend: 'db:3306', allow: ['10.0.0.0/8'] });
    const json = readConfigFile(write('p.json', '{"maxConnections": 5}'), FLAGS);
    expect(json.values).toEqual({ 'max-connections': 5 });
  });

  it('refuses unknown keys naming the key and the closest flag', () => {
    const file = write('p.json', JSON.stringify({ bakend: '10.1.1.1:3306' }));
    expect(() => readConfigFile(file, FLAGS)).toThrow(ConfigError);
    expect(() => readConfigFile(file, FLAGS)).toThrow(/unknown key 'bakend' \(did you mean 'backend'\?\)/);
    expect(() => readConfigFile(write('p.yaml', '- a\n'), FLAGS)).toThrow(/expected a mapping/);
    expect(() => readConfigFile(write('p.yaml', 'config: x\n'), FLAGS)).toThrow(/unknown key 'config'/);
  });

  it('refuses unknown MTP_* variables and leaves other variables alone', () => {
    expect(() => checkEnvironment({ MTP_BACKEND: 'x', PATH: '/bin', MTP_CONFIG: 'f' }, FLAGS)).not.toThrow();
    expect(() => checkEnvironment({ MTP_BAKEND: 'x' }, FLAGS)).toThrow(
      /unknown environment variable MTP_BAKEND \(did you mean MTP_BACKEND for --backend\?\)/,
    );
    expect(closest('lisen', ['listen', 'backend'])).toBe('listen');
  });
});
