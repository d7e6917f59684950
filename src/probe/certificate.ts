/**
 * Certificate facts: the leaf's key, signature algorithm, expiry and name match; the chain's order
 * and completeness as sent; verification against --ca or the system store.
 */
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { certificateSignatureAlgorithm } from '../protocol';
import { describeCertificate } from '../tls/cert-files';
import type { CertificateInfo, ChainFacts, LeafFacts } from './facts';

const DAY_MS = 24 * 60 * 60 * 1000;
const CURVE_BITS: Record<string, number> = { prime256v1: 256, secp384r1: 384, secp521r1: 521 };

function keyBits(cert: X509Certificate): number {
  const details = cert.publicKey.asymmetricKeyDetails ?? {};
  if (details.modulusLength) return details.modulusLength;
  if (details.namedCurve) return CURVE_BITS[details.namedCurve] ?? 0;
  const type = cert.publicKey.asymmetricKeyType;
  return type === 'ed25519' ? 256 : type === 'ed448' ? 456 : 0;
}

export function certificateInfo(der: Buffer): CertificateInfo {
  const cert = new X509Certificate(der);
  const info = describeCertificate(cert.toString());
  return {
    subject: info.subject,
    issuer: info.issuer,
    sans: info.sans,
    notBefore: info.notBefore.toISOString(),
    notAfter: info.notAfter.toISOString(),
    keyType: info.keyType,
    keyBits: keyBits(cert),
    signatureAlgorithm: certificateSignatureAlgorithm(der),
    selfSigned: cert.checkIssued(cert) && cert.verify(cert.publicKey),
    fingerprintSha256: info.fingerprintSha256,
  };
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

/** PEM bundle -> certificates (unparsable blocks are skipped). */
export function parseBundle(pems: readonly string[]): X509Certificate[] {
  const blocks = pems.flatMap(
    (pem) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [],
  );
  return blocks.flatMap((block) => {
    try {
      return [new X509Certificate(block)];
    } catch {
      return [];
    }
  });
}

/** Order and completeness of the certificates as sent; `anchors` are the trusted roots. */
export function chainFacts(
  sent: Buffer[],
  orderObserved: boolean,
  anchors: () => X509Certificate[],
): ChainFacts {
  const certs = sent.map((der) => new X509Certificate(der));
  const inOrder = certs.every((cert, i) => i === certs.length - 1 || issuedBy(cert, certs[i + 1]));
  const path: X509Certificate[] = certs.length > 0 ? [certs[0]] : [];
  for (;;) {
    const top = path[path.length - 1];
    const parent = top && certs.find((c) => !path.includes(c) && issuedBy(top, c));
    if (!parent) break;
    path.push(parent);
  }
  const top = path[path.length - 1];
  const complete = !!top && (issuedBy(top, top) || anchors().some((anchor) => issuedBy(top, anchor)));
  return {
    sent: sent.map(certificateInfo),
    orderObserved,
    inOrder,
    complete,
    extraneous: certs.length - path.length,
  };
}

export function leafFacts(der: Buffer, serverName: string, now = Date.now()): LeafFacts {
  const cert = new X509Certificate(der);
  const info = certificateInfo(der);
  const matched = net.isIP(serverName) ? cert.checkIP(serverName) : cert.checkHost(serverName);
  return {
    keyType: info.keyType,
    keyBits: info.keyBits,
    signatureAlgorithm: info.signatureAlgorithm,
    notAfter: info.notAfter,
    daysToExpiry: Math.floor((new Date(info.notAfter).getTime() - now) / DAY_MS),
    sanMatch: matched !== undefined,
    sanMatchError: matched === undefined ? `the certificate is not valid for ${serverName}` : undefined,
  };
}

/** The chain Node shows (leaf first, completed from the trust store), as DER. */
export function peerChainDer(peer: tls.DetailedPeerCertificate | undefined): Buffer[] {
  const chain: Buffer[] = [];
  const seen = new Set<string>();
  for (let cert = peer; cert && cert.raw && !seen.has(cert.fingerprint256); cert = cert.issuerCertificate) {
    seen.add(cert.fingerprint256);
    chain.push(cert.raw);
  }
  return chain;
}

/** The trust anchors verification uses: --ca or the system store (parsed only when needed). */
export function anchorsFor(caPem: string | undefined): () => X509Certificate[] {
  let parsed: X509Certificate[] | undefined;
  return () => (parsed ??= parseBundle(caPem ? [caPem] : tls.rootCertificates));
}
