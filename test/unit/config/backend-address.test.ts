import { formatBackendAddress, parseBackendAddress } from '../../../src/config/backend-address';
import { validateServeConfig } from '../../../src/config/serve-config';

describe('--backend', () => {
  it('takes HOST:PORT or unix:/path, and formats them back', () => {
    expect(parseBackendAddress('db:3306', '--backend')).toEqual({ host: 'db', port: 3306 });
    expect(parseBackendAddress('unix:/run/mysqld/mysqld.sock', '--backend')).toEqual({
      socketPath: '/run/mysqld/mysqld.sock',
    });
    expect(formatBackendAddress({ socketPath: '/run/mysqld/mysqld.sock' })).toBe(
      'unix:/run/mysqld/mysqld.sock',
    );
    expect(formatBackendAddress({ host: '::1', port: 3306 })).toBe('[::1]:3306');
  });

  it('refuses an empty socket path', () => {
    expect(() => parseBackendAddress('unix:', '--backend')).toThrow(/--backend: unix: needs a socket path/);
  });

  it('refuses TLS and a source address with a unix backend, accepts verify-ca over TCP', () => {
    expect(() => validateServeConfig({ backend: 'unix:/tmp/x.sock', backendTls: 'on' })).toThrow(
      /--backend-tls on cannot be used with --backend unix:\/tmp\/x.sock/,
    );
    expect(() =>
      validateServeConfig({ backend: 'unix:/tmp/x.sock', backendLocalAddress: '127.0.0.1' }),
    ).toThrow(/--backend-local-address cannot be used/);
    expect(validateServeConfig({ backend: 'unix:/tmp/x.sock' }).backend.address).toEqual({
      socketPath: '/tmp/x.sock',
    });
    expect(validateServeConfig({ backendTls: 'verify-ca' }).backend.tls).toBe('verify-ca');
    expect(() => validateServeConfig({ backendTls: 'verify-name' })).toThrow(
      /--backend-tls must be one of off, on, verify-ca, verify/,
    );
  });

  it('has the documented defaults for the reload and log flags', () => {
    const config = validateServeConfig({});
    expect(config.tls).toMatchObject({ reloadIntervalS: 300, watch: true });
    expect(config.access.allowFileReloadIntervalS).toBe(300);
    expect(config.log).toMatchObject({ format: 'auto', connections: 'all' });
    expect(() => validateServeConfig({ logFormat: 'yaml' })).toThrow(
      /--log-format must be auto, json or pretty/,
    );
  });
});
