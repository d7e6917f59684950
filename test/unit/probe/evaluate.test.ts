import { atOrAbove, evaluate, exitCode, isAead, isForwardSecret } from '../../../src/probe/evaluate';
import type { ScanFacts, VersionFacts } from '../../../src/probe/facts';
import { parsePolicy, TIDB_CLOUD_POLICY } from '../../../src/probe/policy';
import { compareScans } from '../../../src/probe/compare';

function version(v: Partial<VersionFacts> & Pick<VersionFacts, 'version'>): VersionFacts {
  return { accepted: true, ciphers: [], groups: [], signatureAlgorithms: [], probeErrors: [], ...v };
}

function facts(overrides: Partial<ScanFacts> = {}): ScanFacts {
  return {
    target: '127.0.0.1:3306',
    serverName: '127.0.0.1',
    greeting: {
      serverVersion: '10.11',
      connectionId: 1,
      tlsAdvertised: true,
      authPlugin: 'mysql_native_password',
    },
    plaintext: { greeting: true, tlsAdvertised: true, login: 'refused' },
    versions: [
      version({
        version: 'TLSv1.2',
        ciphers: [
          { name: 'ECDHE-RSA-AES128-GCM-SHA256', standardName: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256' },
        ],
        groups: ['X25519'],
        serverCipherOrder: true,
      }),
      version({
        version: 'TLSv1.3',
        ciphers: [{ name: 'TLS_AES_128_GCM_SHA256', standardName: 'TLS_AES_128_GCM_SHA256' }],
      }),
    ],
    acceptedVersions: ['TLSv1.2', 'TLSv1.3'],
    behaviour: {
      renegotiation: { clientInitiated: 'refused' },
      secureRenegotiation: 'yes',
      resumption: {
        sessionId: { offered: 'yes', resumed: 'yes' },
        ticketTls12: { offered: 'yes', resumed: 'yes' },
        ticketTls13: { offered: 'yes', resumed: 'yes' },
      },
      compression: 'none',
    },
    chain: [],
    chainFacts: { sent: [], orderObserved: true, inOrder: true, complete: true, extraneous: 0 },
    leaf: {
      keyType: 'RSA 2048',
      keyBits: 2048,
      signatureAlgorithm: 'sha256WithRSAEncryption',
      notAfter: '2030-01-01T00:00:00.000Z',
      daysToExpiry: 400,
      sanMatch: true,
    },
    verification: { verified: true, ca: 'ca.pem', serverName: '127.0.0.1' },
    durationMs: 1,
    ...overrides,
  };
}

describe('cipher classification', () => {
  it.each([
    ['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', true, true],
    ['TLS_DHE_RSA_WITH_AES_256_CBC_SHA256', true, false],
    ['TLS_RSA_WITH_AES_128_GCM_SHA256', false, true],
    ['TLS_RSA_WITH_AES_128_CBC_SHA', false, false],
    ['TLS_AES_128_CCM_8_SHA256', true, true],
    ['TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', true, true],
  ])('%s: forward secret %s, AEAD %s', (name, fs, aead) => {
    expect(isForwardSecret(name)).toBe(fs);
    expect(isAead(name)).toBe(aead);
  });
});

describe('evaluate against tidb-cloud', () => {
  it('a clean endpoint has no findings and exits 0', () => {
    const f = facts();
    expect(evaluate(f, TIDB_CLOUD_POLICY)).toEqual([]);
    expect(exitCode(f, [], 'medium')).toBe(0);
  });

  it('legacy versions are high, non-FS/non-AEAD ciphers and renegotiation medium, client order low', () => {
    const f = facts({
      acceptedVersions: ['TLSv1', 'TLSv1.2'],
      versions: [
        version({ version: 'TLSv1' }),
        version({
          version: 'TLSv1.2',
          serverCipherOrder: false,
          ciphers: [{ name: 'AES128-SHA', standardName: 'TLS_RSA_WITH_AES_128_CBC_SHA' }],
        }),
      ],
      behaviour: { ...facts().behaviour, renegotiation: { clientInitiated: 'allowed' } },
    });
    const findings = evaluate(f, TIDB_CLOUD_POLICY);
    expect(findings.map((x) => [x.id, x.severity])).toEqual([
      ['version-not-allowed', 'high'],
      ['version-missing', 'info'],
      ['cipher-not-allowed', 'medium'],
      ['client-cipher-order', 'low'],
      ['renegotiation', 'medium'],
    ]);
    expect(findings[2].reason).toBe('TLS 1.2 accepts AES128-SHA: not forward secret, not AEAD');
    expect(exitCode(f, findings, 'high')).toBe(1);
    expect(atOrAbove(findings, 'critical')).toEqual([]);
  });

  it('certificate: expired is critical, small key and SHA-1 high, incomplete chain high', () => {
    const f = facts({
      leaf: {
        keyType: 'RSA 1024',
        keyBits: 1024,
        signatureAlgorithm: 'sha1WithRSAEncryption',
        notAfter: '2020-01-01T00:00:00.000Z',
        daysToExpiry: -3,
        sanMatch: false,
        sanMatchError: 'not valid for x',
      },
      chainFacts: { sent: [], orderObserved: true, inOrder: false, complete: false, extraneous: 1 },
      verification: {
        verified: false,
        ca: 'ca.pem',
        serverName: 'x',
        error: 'CERT_HAS_EXPIRED',
        chainError: 'CERT_HAS_EXPIRED',
      },
    });
    expect(evaluate(f, TIDB_CLOUD_POLICY).map((x) => `${x.severity} ${x.id}`)).toEqual([
      'critical certificate-expired',
      'high weak-key',
      'high weak-certificate-signature',
      'high name-mismatch',
      'high chain-not-verified',
      'high chain-incomplete',
      'low chain-order',
      'low chain-extraneous',
    ]);
  });

  it('compression and plaintext logins; a policy file can forbid plaintext and override severities', () => {
    const f = facts({
      behaviour: { ...facts().behaviour, compression: 'deflate' },
      plaintext: {
        greeting: true,
        tlsAdvertised: true,
        login: 'offered',
        loginDetail: 'ERR 1045: Access denied',
      },
    });
    expect(evaluate(f, TIDB_CLOUD_POLICY).map((x) => `${x.severity} ${x.id}`)).toEqual([
      'high compression',
      'low plaintext-login',
    ]);
    const strict = parsePolicy(
      '{"allowPlaintextLogin": false, "severities": {"compression": "critical"}}',
      'strict.json',
    );
    expect(evaluate(f, strict).map((x) => `${x.severity} ${x.id}`)).toEqual([
      'critical compression',
      'high plaintext-login',
    ]);
  });

  it('policy lists: ciphers, groups, versions', () => {
    const policy = parsePolicy(
      'versions: [TLSv1.3]\ngroups: [P-256]\nciphers: [TLS_AES_256_GCM_SHA384]\n',
      'p.yaml',
    );
    const ids = evaluate(facts(), policy).map((x) => `${x.id}: ${x.reason}`);
    expect(ids).toEqual([
      'version-not-allowed: TLS 1.2 is accepted (policy p.yaml allows TLS 1.3)',
      'cipher-not-allowed: TLS 1.2 accepts ECDHE-RSA-AES128-GCM-SHA256: not in the policy cipher list',
      'group-not-allowed: TLS 1.2 accepts group X25519: not in policy p.yaml',
      'cipher-not-allowed: TLS 1.3 accepts TLS_AES_128_GCM_SHA256: not in the policy cipher list',
    ]);
  });

  it('an unreachable endpoint exits 2 whatever the findings', () => {
    expect(exitCode(facts({ unreachable: 'ECONNREFUSED' }), [], 'medium')).toBe(2);
  });
});

describe('parsePolicy', () => {
  it.each([
    ['versions: [SSLv3]', /unknown version SSLv3/],
    ['minRsaBits: -1', /minRsaBits must be an integer/],
    ['colour: blue', /unknown key colour/],
    ['severities: {renegotiation: fatal}', /severities.renegotiation must be one of/],
    ['[1, 2]', /expected a map/],
    ['{', /--policy bad.yaml:/],
  ])('%s is refused', (text, message) => {
    expect(() => parsePolicy(text, 'bad.yaml')).toThrow(message);
  });
});

describe('compareScans', () => {
  it('reports set and value differences, nothing for equal scans', () => {
    const a = facts();
    expect(compareScans({ facts: a, findings: [] }, { facts: facts(), findings: [] })).toEqual([]);
    const b = facts({
      versions: [
        version({
          version: 'TLSv1.2',
          ciphers: [{ name: 'AES128-SHA', standardName: 'TLS_RSA_WITH_AES_128_CBC_SHA' }],
          groups: ['X25519'],
          serverCipherOrder: false,
        }),
        facts().versions[1],
      ],
      behaviour: { ...facts().behaviour, renegotiation: { clientInitiated: 'allowed' } },
    });
    const diff = compareScans(
      { facts: a, findings: [] },
      { facts: b, findings: [{ id: 'renegotiation', severity: 'medium', reason: 'r' }] },
    );
    expect(diff).toEqual([
      { fact: 'TLSv1.2 ciphers', a: 'only here: ECDHE-RSA-AES128-GCM-SHA256', b: 'only here: AES128-SHA' },
      { fact: 'TLSv1.2 server cipher order', a: 'true', b: 'false' },
      { fact: 'renegotiation', a: 'refused', b: 'allowed' },
      { fact: 'findings', a: '-', b: 'only here: medium renegotiation: r' },
    ]);
  });
});
