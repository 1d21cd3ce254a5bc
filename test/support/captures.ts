/**
 * The states JwtRotations are captured in from the real operator (test/support/capture-states.ts:
 * afresh by the health tests, into deploy/argocd/jwtrotation.io/JwtRotation/testdata/ by
 * `npm run capture`), and what Argo CD and Flux must make of each.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';

import { repoRoot } from './cluster.ts';

export const HEALTH_DIR = path.join(repoRoot, 'deploy/argocd/jwtrotation.io/JwtRotation');
export const CAPTURE_DIR = path.join(HEALTH_DIR, 'testdata');

export type ArgoHealth = 'Healthy' | 'Progressing' | 'Degraded' | 'Suspended';
export type KStatus = 'InProgress' | 'Current' | 'Failed';

export interface Capture {
  file: string;
  /** What the capture shows. */
  state: string;
  argo: ArgoHealth;
  /** kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute), as Flux's wait/healthChecks read it. */
  kstatus: KStatus;
  /** deploy/flux/jwtrotations.yaml's healthCheckExprs. */
  cel: KStatus;
}

export const CAPTURES: Capture[] = [
  {
    file: 'no-status.yaml',
    state: 'no status yet',
    argo: 'Progressing',
    kstatus: 'Current',
    cel: 'InProgress',
  },
  {
    file: 'generation-lag.yaml',
    state: 'observedGeneration lags',
    argo: 'Progressing',
    kstatus: 'InProgress',
    cel: 'InProgress',
  },
  { file: 'idle.yaml', state: 'Idle, settled', argo: 'Healthy', kstatus: 'Current', cel: 'Current' },
  { file: 'dualkey.yaml', state: 'DualKey', argo: 'Healthy', kstatus: 'InProgress', cel: 'Current' },
  { file: 'monitoring.yaml', state: 'Monitoring', argo: 'Healthy', kstatus: 'InProgress', cel: 'Current' },
  {
    file: 'monitoring-gated.yaml',
    state: 'Monitoring with gate readings',
    argo: 'Healthy',
    kstatus: 'InProgress',
    cel: 'Current',
  },
  { file: 'completing.yaml', state: 'Completing', argo: 'Healthy', kstatus: 'InProgress', cel: 'Current' },
  {
    file: 'idle-after-rotation.yaml',
    state: 'Idle after a rotation',
    argo: 'Healthy',
    kstatus: 'Current',
    cel: 'Current',
  },
  { file: 'rollingback.yaml', state: 'RollingBack', argo: 'Healthy', kstatus: 'InProgress', cel: 'Current' },
  {
    file: 'idle-after-rollback.yaml',
    state: 'Idle after a rollback',
    argo: 'Healthy',
    kstatus: 'Current',
    cel: 'Current',
  },
  {
    file: 'paused.yaml',
    state: 'Paused by the health gate',
    argo: 'Degraded',
    kstatus: 'Failed',
    cel: 'Failed',
  },
  {
    file: 'failed-secret-managed-elsewhere.yaml',
    state: 'Failed (SecretManagedElsewhere)',
    argo: 'Degraded',
    kstatus: 'Failed',
    cel: 'Failed',
  },
  // kstatus reads Stalled=True together with Reconciling=True as InProgress: a stall must come with
  // Reconciling=False for kstatus to say Failed.
  {
    file: 'stalled-target-deleted.yaml',
    state: 'Stalled (target deleted mid-rotation)',
    argo: 'Degraded',
    kstatus: 'Failed',
    cel: 'Failed',
  },
  {
    file: 'suspended.yaml',
    state: 'Suspended in Idle',
    argo: 'Suspended',
    kstatus: 'Current',
    cel: 'Current',
  },
];

/** The capture files present on disk. */
export function captureFiles(): string[] {
  return readdirSync(CAPTURE_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
}
