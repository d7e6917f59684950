import { SERVE_DEFAULTS } from '../../../src/config/defaults';
import { ConfigError } from '../../../src/config/errors';
import { validateServeConfig } from '../../../src/config/serve-config';

describe('validateServeConfig', () => {
  it('turns the table defaults into a nested config with units in the names', () => {
    const config = validateServeConfig({});
    expect(config.listen.address).toEqual({ host: '0.0.0.0', port: 4000 });
    expect(config.access.allow).toEqual(['127.0.0.1/32', '::1/128']);
    expect(config.tls.minVersion).toBe('TLSv1.2');
    expect(config.listen.handshakeTimeoutMs).toBe(SERVE_DEFAULTS.handshakeTimeout);
    expect(config.tls.sessionTimeoutS).toBe(300);
    expect(config.tls.ticketKeyRotationS).toBe(3_600);
    expect(config.status.address).toEqual({ host: '127.0.0.1', port: 9400 });
    expect(config.log.level).toBe('info');
    expect(config.backend.address).toEqual({ host: '127.0.0.1', port: 3306 });
  });

  it('takes strings from the environment and the last of a repeated flag', () => {
    const config = validateServeConfig({ tlsSessionTimeout: '7200', tlsTicketKeyRotation: [120, 600] });
    expect(config.tls.sessionTimeoutS).toBe(7_200);
    expect(config.tls.ticketKeyRotationS).toBe(600);
  });

  it.each([
    [undefined, false],
    ['', true], // the bare flag, as yargs hands a string flag over
    [true, true],
    ['true', true],
    ['1', true],
    ['on', true],
    [false, false],
    ['0', false],
    ['off', false],
    ['warn', 'warn'],
  ])('--require-secure-transport %p means %p', (value, expected) => {
    const config = validateServeConfig(value === undefined ? {} : { requireSecureTransport: value });
    expect(config.access.requireSecureTransport).toBe(expected);
  });

  it.each([
    [{ requireSecureTransport: 'maybe' }, /--require-secure-transport must be on, off or warn, got 'maybe'/],
    [{ tlsMinVersion: 'TLSv1.1' }, /--tls-min-version TLSv1.1 is refused/],
    [{ tlsMinVersion: 'TLSv1.3', tlsMaxVersion: 'TLSv1.2' }, /is above --tls-max-version/],
    [{ allow: ['10.0.0.0/33'] }, /--allow/],
    [{ tlsSessionTimeout: 0 }, /--tls-session-timeout must be an integer >= 1/],
    [{ tlsSessionTimeout: 604_801 }, /--tls-session-timeout must be an integer <= 604800/],
    [{ tlsSessionTimeout: '5m' }, /--tls-session-timeout must be an integer/],
    [{ tlsTicketKeyRotation: 59 }, /--tls-ticket-key-rotation must be an integer >= 60/],
    [{ maxConnections: 0 }, /--max-connections must be an integer >= 1/],
  ])('refuses %p with a ConfigError naming the flag', (raw, message) => {
    expect(() => validateServeConfig(raw)).toThrow(ConfigError);
    expect(() => validateServeConfig(raw)).toThrow(message);
  });
});
