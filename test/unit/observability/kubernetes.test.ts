/**
 * deploy/kubernetes/mysql-tls-proxy.yaml: parsed, and every reference that must line up does —
 * probes on the status port's /readyz and /healthz, the certificate files from the Secret volume,
 * serve flags that exist, selectors that select the pods, a grace period longer than the drain.
 */
import { readFileSync } from 'fs';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';
import { SERVE_DEFAULTS } from '../../../src/config/defaults';
import { parseCidrList } from '../../../src/policy/cidr';

const ROOT = path.resolve(__dirname, '../../..');
/* eslint-disable @typescript-eslint/no-explicit-any */
const documents = parseAllDocuments(
  readFileSync(path.join(ROOT, 'deploy/kubernetes/mysql-tls-proxy.yaml'), 'utf8'),
);
const manifests: any[] = documents.map((d) => d.toJS());
const byKind = (kind: string) => manifests.find((m) => m.kind === kind);
const deployment = byKind('Deployment');
const pod = deployment.spec.template;
const container = pod.spec.containers[0];
const env: Record<string, string> = Object.fromEntries(container.env.map((e: any) => [e.name, e.value]));
const portNumber = (name: string) => container.ports.find((p: any) => p.name === name)?.containerPort;

it('parses: a Deployment, a Service and a PodDisruptionBudget', () => {
  for (const document of documents) expect(document.errors).toEqual([]);
  expect(manifests.map((m) => `${m.apiVersion} ${m.kind}`)).toEqual([
    'apps/v1 Deployment',
    'v1 Service',
    'policy/v1 PodDisruptionBudget',
  ]);
  for (const m of manifests) expect(m.metadata.name).toBe('mysql-tls-proxy');
  expect(pod.spec.containers).toHaveLength(1);
});

it('uses only field names the Kubernetes API knows (a misspelled probe would be silently ignored)', () => {
  const known: Record<string, string[]> = {
    container: [
      'name',
      'image',
      'imagePullPolicy',
      'command',
      'args',
      'env',
      'envFrom',
      'ports',
      'readinessProbe',
      'livenessProbe',
      'startupProbe',
      'resources',
      'securityContext',
      'volumeMounts',
      'lifecycle',
      'workingDir',
    ],
    probe: [
      'httpGet',
      'tcpSocket',
      'exec',
      'grpc',
      'initialDelaySeconds',
      'periodSeconds',
      'timeoutSeconds',
      'successThreshold',
      'failureThreshold',
      'terminationGracePeriodSeconds',
    ],
    podSpec: [
      'containers',
      'initContainers',
      'volumes',
      'securityContext',
      'terminationGracePeriodSeconds',
      'automountServiceAccountToken',
      'serviceAccountName',
      'affinity',
      'tolerations',
      'nodeSelector',
      'topologySpreadConstraints',
      'priorityClassName',
    ],
  };
  const unknown = (object: object, kind: string) =>
    Object.keys(object).filter((k) => !known[kind].includes(k));
  expect(unknown(container, 'container')).toEqual([]);
  expect(unknown(container.readinessProbe, 'probe')).toEqual([]);
  expect(unknown(container.livenessProbe, 'probe')).toEqual([]);
  expect(unknown(pod.spec, 'podSpec')).toEqual([]);
});

it('probes readiness on /readyz and liveness on /healthz, on the status port', () => {
  expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'status' });
  expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'status' });
  // the status port listens where the kubelet reaches it (the pod IP), on the named port
  expect(env.MTP_STATUS).toBe(`0.0.0.0:${portNumber('status')}`);
  expect(pod.metadata.annotations['prometheus.io/port']).toBe(String(portNumber('status')));
  expect(pod.metadata.annotations['prometheus.io/path']).toBe('/metrics');
  // liveness must not fail while the database is down: that is what readiness is for
  expect(container.livenessProbe.httpGet.path).not.toBe('/readyz');
});

it('takes the certificate, key and CA from a Secret volume, read-only', () => {
  const mount = container.volumeMounts.find((m: any) => m.name === 'tls');
  expect(mount.readOnly).toBe(true);
  const volume = pod.spec.volumes.find((v: any) => v.name === 'tls');
  expect(volume.secret.secretName).toBe('mysql-tls-proxy-tls');
  // the keys of a kubernetes.io/tls (and cert-manager) Secret, directly in the mount
  expect(env.MTP_CERT).toBe(path.posix.join(mount.mountPath, 'tls.crt'));
  expect(env.MTP_KEY).toBe(path.posix.join(mount.mountPath, 'tls.key'));
  expect(env.MTP_CA_FILE).toBe(path.posix.join(mount.mountPath, 'ca.crt'));
  // written as decimal (YAML 1.1 and 1.2 read octal differently): 0440, readable through fsGroup
  expect(volume.secret.defaultMode).toBe(0o440);
  expect(pod.spec.securityContext.fsGroup).toBe(pod.spec.securityContext.runAsGroup);
});

it('sets only real serve flags, with a valid access list', () => {
  const flags = Object.keys(SERVE_DEFAULTS).map(
    (key) => 'MTP_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase(),
  );
  for (const name of Object.keys(env)) expect(flags).toContain(name);
  expect(() => parseCidrList(env.MTP_ALLOW.split(','), 'MTP_ALLOW')).not.toThrow();
  expect(env.MTP_LISTEN).toBe(`0.0.0.0:${portNumber('mysql')}`);
  expect(env.MTP_BACKEND).toMatch(/^[a-z0-9.-]+:\d+$/);
});

it('serves clients through the Service, whose selector (and the budget’s) selects the pods', () => {
  const labels = pod.metadata.labels;
  const selects = (selector: Record<string, string>) =>
    Object.entries(selector).every(([key, value]) => labels[key] === value);
  expect(selects(deployment.spec.selector.matchLabels)).toBe(true);
  const service = byKind('Service');
  expect(selects(service.spec.selector)).toBe(true);
  expect(selects(byKind('PodDisruptionBudget').spec.selector.matchLabels)).toBe(true);
  expect(service.spec.ports.map((p: any) => p.targetPort)).toEqual(['mysql']);
  // the status port (metrics reveal traffic patterns) is not on the Service
  expect(service.spec.ports.some((p: any) => p.targetPort === 'status' || p.port === 9400)).toBe(false);
});

it('drains before the kubelet kills, as a non-root user on a read-only root', () => {
  expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(SERVE_DEFAULTS.drainTimeout / 1000);
  expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
  expect(container.securityContext).toMatchObject({
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
  });
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  expect(dockerfile).toMatch(/^USER node$/m); // uid 1000 in the node images
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  expect(container.image).toBe(`mysql-tls-proxy:${pkg.version}`);
  expect(container.args).toEqual(['serve']);
});
