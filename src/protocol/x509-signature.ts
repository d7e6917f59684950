/**
 * The signature algorithm of an X.509 certificate (RFC 5280 §4.1.1.2), which Node's
 * X509Certificate does not expose: Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm,
 * signatureValue }. Pure DER walking; only the lengths and the OID are read.
 */
import { MalformedPacketError } from './reader';

const SIGNATURE_OIDS: Record<string, string> = {
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'rsassaPss',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
};

/** [content start, content end) of the DER element at `offset`. */
function element(der: Buffer, offset: number): { start: number; end: number } {
  if (offset + 2 > der.length) throw new MalformedPacketError('truncated DER');
  let length = der[offset + 1];
  let start = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4 || start + bytes > der.length)
      throw new MalformedPacketError('bad DER length');
    length = der.readUIntBE(start, bytes);
    start += bytes;
  }
  if (start + length > der.length) throw new MalformedPacketError('truncated DER');
  return { start, end: start + length };
}

export function decodeOid(bytes: Buffer): string {
  const parts = [Math.floor(bytes[0] / 40), bytes[0] % 40];
  let value = 0;
  for (const byte of bytes.subarray(1)) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}

/** "sha256WithRSAEncryption", "ecdsa-with-SHA256", ... or the dotted OID when unknown. */
export function certificateSignatureAlgorithm(der: Buffer): string {
  const certificate = element(der, 0);
  const tbs = element(der, certificate.start);
  const algorithm = element(der, tbs.end);
  const oid = element(der, algorithm.start);
  const dotted = decodeOid(der.subarray(oid.start, oid.end));
  return SIGNATURE_OIDS[dotted] ?? dotted;
}
