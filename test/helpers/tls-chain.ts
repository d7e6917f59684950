/**
 * Certificate chains for `check` tests: root CA -> intermediate CA -> server leaf, RSA or ECDSA,
 * with any validity window (an expired leaf included), written as PEM files.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { KeyObject, webcrypto } from 'node:crypto';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';

type Keys = { privateKey: webcrypto.CryptoKey; publicKey: webcrypto.CryptoKey };
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const DAY = 24 * 60 * 60 * 1000;

export interface ChainFiles {
  dir: string;
  rootCa: string;
  /** Leaf then intermediate (what a server should send). */
  fullChain: string;
  /** Leaf only (the intermediate is missing). */
  leafOnly: string;
  key: string;
}

function algorithm(kind: 'rsa' | 'ecdsa') {
  return kind === 'rsa'
    ? {
        name: 'RSASSA-PKCS1-v1_5',
        hash: 'SHA-256',
        publicExponent: new Uint8Array([1, 0, 1]),
        modulusLength: 2048,
      }
    : { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
}

async function keys(kind: 'rsa' | 'ecdsa'): Promise<Keys> {
  return (await webcrypto.subtle.generateKey(algorithm(kind), true, ['sign', 'verify'])) as Keys;
}

async function issue(
  subject: string,
  issuer: string,
  subjectKeys: Keys,
  signer: Keys,
  kind: 'rsa' | 'ecdsa',
  window: { from: Date; to: Date },
  ca: boolean,
): Promise<x509.X509Certificate> {
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(ca, undefined, true)];
  if (ca)
    extensions.push(
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    );
  else
    extensions.push(
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
      ]),
    );
  return x509.X509CertificateGenerator.create({
    serialNumber: Date.now().toString(16) + Math.floor(Math.random() * 1e6).toString(16),
    subject,
    issuer,
    notBefore: window.from,
    notAfter: window.to,
    publicKey: subjectKeys.publicKey,
    signingKey: signer.privateKey,
    signingAlgorithm: algorithm(kind),
    extensions,
  });
}

/** A three-level chain; `expired` puts the leaf's validity in the past. */
export async function makeChain(
  kind: 'rsa' | 'ecdsa',
  options: { expired?: boolean } = {},
): Promise<ChainFiles> {
  const now = Date.now();
  const caWindow = { from: new Date(now - 2 * 365 * DAY), to: new Date(now + 3650 * DAY) };
  const leafWindow = options.expired
    ? { from: new Date(now - 60 * DAY), to: new Date(now - 2 * DAY) }
    : { from: new Date(now - DAY), to: new Date(now + 90 * DAY) };
  const [rootKeys, midKeys, leafKeys] = await Promise.all([keys(kind), keys(kind), keys(kind)]);
  const root = await issue(
    'CN=check test root',
    'CN=check test root',
    rootKeys,
    rootKeys,
    kind,
    caWindow,
    true,
  );
  const mid = await issue(
    'CN=check test intermediate',
    'CN=check test root',
    midKeys,
    rootKeys,
    kind,
    caWindow,
    true,
  );
  const leaf = await issue(
    'CN=localhost',
    'CN=check test intermediate',
    leafKeys,
    midKeys,
    kind,
    leafWindow,
    false,
  );
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-check-chain-'));
  const files: ChainFiles = {
    dir,
    rootCa: path.join(dir, 'root.pem'),
    fullChain: path.join(dir, 'chain.pem'),
    leafOnly: path.join(dir, 'leaf.pem'),
    key: path.join(dir, 'key.pem'),
  };
  const keyPem = KeyObject.from(leafKeys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
  await Promise.all([
    fs.writeFile(files.rootCa, root.toString('pem') + '\n'),
    fs.writeFile(files.fullChain, leaf.toString('pem') + '\n' + mid.toString('pem') + '\n'),
    fs.writeFile(files.leafOnly, leaf.toString('pem') + '\n'),
    fs.writeFile(files.key, keyPem, { mode: 0o600 }),
  ]);
  return files;
}
