/** Inputs of /readyz, gathered by the composition root. */
export interface ReadinessInputs {
  listening: boolean;
  draining: boolean;
  credentialsLoaded: boolean;
  /** undefined when the backend is not probed. */
  backend?: { reachable: boolean; detail?: string };
}

export interface Readiness {
  ready: boolean;
  /** Why not ready, e.g. "draining", "certificate not loaded". */
  reasons: string[];
}

/** Ready = listening, not draining, certificate loaded and the database reachable per the probes. */
export function computeReadiness(inputs: ReadinessInputs): Readiness {
  const reasons: string[] = [];
  if (!inputs.listening) reasons.push('not listening');
  if (inputs.draining) reasons.push('draining');
  if (!inputs.credentialsLoaded) reasons.push('certificate not loaded');
  if (inputs.backend && !inputs.backend.reachable) {
    reasons.push(
      inputs.backend.detail ? `backend unreachable (${inputs.backend.detail})` : 'backend unreachable',
    );
  }
  return { ready: reasons.length === 0, reasons };
}
