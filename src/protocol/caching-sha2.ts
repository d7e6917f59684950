import crypto from 'node:crypto';

/**
 * caching_sha2_password's full authentication over a connection the server does not consider
 * secure: the client asks for the server's RSA public key and sends the password XOR the scramble,
 * RSA-OAEP encrypted.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_caching_sha2_authentication_exchanges.html
 */
export const CACHING_SHA2 = 'caching_sha2_password';
/** AuthMoreData payloads: fast auth succeeded / full authentication needed. */
export const FAST_AUTH_SUCCESS = Buffer.from([0x01, 0x03]);
export const PERFORM_FULL_AUTHENTICATION = Buffer.from([0x01, 0x04]);
/** The client's request for the server's public key. */
export const REQUEST_PUBLIC_KEY = Buffer.from([0x02]);

/**
 * RSA-OAEP(SHA-1) of (password NUL) XOR scramble. `passwordWithNul` is what a client sends in clear
 * over TLS. The intermediate buffer is wiped; the caller wipes the password.
 */
export function encryptPassword(passwordWithNul: Buffer, scramble: Buffer, publicKeyPem: Buffer): Buffer {
  if (scramble.length === 0) throw new RangeError('empty scramble');
  const mixed = Buffer.alloc(passwordWithNul.length);
  for (let i = 0; i < mixed.length; i++) mixed[i] = passwordWithNul[i] ^ scramble[i % scramble.length];
  try {
    return crypto.publicEncrypt(
      { key: publicKeyPem, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING },
      mixed,
    );
  } finally {
    mixed.fill(0);
  }
}
