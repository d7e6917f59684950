import { decideLogin, type LoginPolicy } from '../../../src/handshake/login-policy';

const open: LoginPolicy = { requireSecureTransport: false, requireClientCertificate: false };
const secure: LoginPolicy = { ...open, requireSecureTransport: true };
const twoWay: LoginPolicy = { ...open, requireClientCertificate: true };
const audit: LoginPolicy = { ...open, requireSecureTransport: 'warn' };

describe('decideLogin', () => {
  it('allows everything when nothing is required', () => {
    expect(decideLogin(open, 'plain', undefined)).toEqual({ allowed: true });
    expect(decideLogin(open, 'tls', { verified: false, why: 'x' })).toEqual({ allowed: true });
  });

  it('refuses plaintext with ERR 3159 under --require-secure-transport, in MySQL words', () => {
    const decision = decideLogin(secure, 'plain', undefined);
    expect(decision).toMatchObject({ allowed: false, reason: 'insecure_transport' });
    expect(!decision.allowed && decision.error).toMatchObject({
      code: 3159,
      message: 'Connections using insecure transport are prohibited while --require_secure_transport=ON.',
    });
    expect(decideLogin(secure, 'tls', undefined)).toEqual({ allowed: true });
  });

  it('lets plaintext through with a warning under --require-secure-transport=warn, and TLS without one', () => {
    expect(decideLogin(audit, 'plain', undefined)).toEqual({
      allowed: true,
      warning: { reason: 'insecure_transport', detail: expect.stringContaining('warn') },
    });
    expect(decideLogin(audit, 'tls', undefined)).toEqual({ allowed: true });
  });

  it('warn does not weaken --client-ca: plaintext is still refused', () => {
    const decision = decideLogin({ ...twoWay, requireSecureTransport: 'warn' }, 'plain', undefined);
    expect(decision).toMatchObject({ allowed: false, reason: 'insecure_transport' });
  });

  it('--client-ca implies TLS: plaintext is refused with ERR 3159 naming --client-ca', () => {
    const decision = decideLogin(twoWay, 'plain', undefined);
    expect(decision).toMatchObject({ allowed: false, reason: 'insecure_transport' });
    expect(!decision.allowed && decision.error.code).toBe(3159);
    expect(!decision.allowed && decision.error.message).toContain('--client-ca');
  });

  it('--client-ca refuses TLS without a verified certificate with ERR 1045 and the reason', () => {
    for (const certificate of [undefined, { verified: false as const, why: 'CERT_HAS_EXPIRED' }]) {
      const decision = decideLogin(twoWay, 'tls', certificate);
      expect(decision).toMatchObject({ allowed: false, reason: 'client_certificate' });
      expect(!decision.allowed && decision.error.code).toBe(1045);
    }
    const expired = decideLogin(twoWay, 'tls', { verified: false, why: 'CERT_HAS_EXPIRED' });
    expect(!expired.allowed && expired.error.message).toContain('CERT_HAS_EXPIRED');
    expect(decideLogin(twoWay, 'tls', { verified: true })).toEqual({ allowed: true });
  });
});
