import { classifyError, errorKey, MysqlClientError } from '../../../src/client/errors';

const err = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('classifyError', () => {
  it.each([
    ['ECONNREFUSED', 'refused', undefined],
    ['ETIMEDOUT', 'timeout', undefined],
    ['ECONNRESET', 'closed', undefined],
    ['EPIPE', 'closed', undefined],
    ['ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'tls_alert', 'protocol_version'],
    ['ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'tls_alert', 'handshake_failure'],
    ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'tls_alert', 'certificate_required'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'tls_alert', 'wrong_version_number'],
    ['ERR_SSL_UNSUPPORTED_PROTOCOL', 'tls_alert', 'unsupported_protocol'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'tls_alert', 'bad_certificate'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls_alert', 'bad_certificate'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'tls_alert', 'bad_certificate'],
    ['EADDRNOTAVAIL', 'other', undefined],
  ])('%s is %s', (code, kind, reason) => {
    const c = classifyError(err(code), 'tls');
    expect(c.kind).toBe(kind);
    expect(c.reason).toBe(reason);
    expect(c.errno).toBe(code);
    expect(c.stage).toBe('tls');
  });

  it('treats a peer that hung up during TLS as closed', () => {
    expect(
      classifyError(
        new Error('Client network socket disconnected before secure TLS connection was established'),
        'tls',
      ).kind,
    ).toBe('closed');
  });

  it('keeps an already classified error as it is', () => {
    const e = new MysqlClientError({ kind: 'mysql_err', stage: 'auth', code: 1045, message: 'denied' });
    expect(classifyError(e, 'connect')).toMatchObject({ kind: 'mysql_err', stage: 'auth', code: 1045 });
  });

  it('handles non-errors', () => {
    expect(classifyError('boom', 'query')).toMatchObject({ kind: 'other', message: 'boom' });
    expect(classifyError(undefined, 'query').kind).toBe('other');
  });
});

describe('errorKey', () => {
  it('groups by kind and the detail that matters', () => {
    expect(errorKey({ kind: 'mysql_err', stage: 'auth', code: 1045, message: '' })).toBe('mysql_err 1045');
    expect(errorKey({ kind: 'tls_alert', stage: 'tls', reason: 'protocol_version', message: '' })).toBe(
      'tls_alert protocol_version',
    );
    expect(
      errorKey({
        kind: 'tls_alert',
        stage: 'tls',
        reason: 'bad_certificate',
        errno: 'CERT_HAS_EXPIRED',
        message: '',
      }),
    ).toBe('tls_alert bad_certificate (CERT_HAS_EXPIRED)');
    expect(errorKey({ kind: 'refused', stage: 'connect', message: '' })).toBe('refused');
    expect(errorKey({ kind: 'other', stage: 'auth', message: '' })).toBe('other (auth)');
  });
});
