import { computeReadiness } from '../../../src/observability/readiness';

const healthy = { listening: true, draining: false, credentialsLoaded: true, backend: { reachable: true } };

describe('computeReadiness', () => {
  it('is ready when listening, not draining, with a certificate and a reachable backend', () => {
    expect(computeReadiness(healthy)).toEqual({ ready: true, reasons: [] });
    expect(computeReadiness({ ...healthy, backend: undefined })).toEqual({ ready: true, reasons: [] });
  });

  it.each([
    [{ draining: true }, ['draining']],
    [{ listening: false }, ['not listening']],
    [{ credentialsLoaded: false }, ['certificate not loaded']],
    [{ backend: { reachable: false } }, ['backend unreachable']],
    [{ backend: { reachable: false, detail: 'ECONNREFUSED' } }, ['backend unreachable (ECONNREFUSED)']],
  ])('is not ready with %j', (change, reasons) => {
    expect(computeReadiness({ ...healthy, ...change })).toEqual({ ready: false, reasons });
  });

  it('lists every reason', () => {
    expect(
      computeReadiness({
        listening: true,
        draining: true,
        credentialsLoaded: false,
        backend: { reachable: false },
      }).reasons,
    ).toEqual(['draining', 'certificate not loaded', 'backend unreachable']);
  });
});
