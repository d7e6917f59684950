/**
 * sha256_password (MySQL 5.6 to 8.x; deprecated in 8.0) on a connection the server does not
 * consider secure: the client sends 0x01 to ask for the server's RSA public key, the server answers
 * AuthMoreData (0x01, PEM), and the client sends the password with its NUL, XOR the scramble,
 * RSA-OAEP encrypted (encryptPassword in ./caching-sha2, the same transformation). Over TLS the
 * client sends the password with its NUL in clear.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_authentication_methods_sha256_password_authentication.html
 */
export const SHA256_PASSWORD = 'sha256_password';
/** The client's request for the server's public key (caching_sha2_password uses 0x02). */
export const SHA256_REQUEST_PUBLIC_KEY = Buffer.from([0x01]);

/**
 * Whether a client's sha256_password data is its clear password (with NUL). The other answers are
 * one byte or none: a key request (0x01) or an empty password ('' or a lone NUL), which the server
 * accepts on any connection.
 */
export function isSha256ClearPassword(data: Buffer): boolean {
  return data.length > 1;
}
