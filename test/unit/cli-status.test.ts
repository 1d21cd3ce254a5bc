/** The plugin's `status` of a JwtRotation with an issuer: what the replicas serve, when signing may switch, who accepts what. */
import { expect } from 'chai';

import type { JwtRotation } from '../../src/api/types.ts';
import { describe as describeRotation } from '../../src/cli/commands/status.ts';
import { painter } from '../../src/cli/output.ts';

const base: JwtRotation = {
  apiVersion: 'jwtrotation.io/v1alpha1',
  kind: 'JwtRotation',
  metadata: { name: 'api', namespace: 'prod', generation: 1 },
  spec: { secretName: 'api-jwt', algorithm: 'ES256', issuer: { url: 'https://id.example.com/t/api' } },
};

describe('kubectl jwtrotation status, with an issuer', () => {
  it('shows the replicas serving, the earliest switch, and each relying party', () => {
    const text = describeRotation(
      {
        ...base,
        status: {
          phase: 'DualKey',
          observedGeneration: 1,
          issuer: {
            url: 'https://id.example.com/t/api',
            version: 'v2',
            servers: 2,
            serversServingLatest: 1,
            newKeyServedSince: '2026-12-07T10:00:00Z',
            signingNotBefore: '2026-12-07T10:05:30Z',
            fetchers: 3,
            fetchersWithNewKey: 1,
            relyingParties: [
              { name: 'kube-apiserver', acceptedKey: 'abcdef012345', acceptedAt: '2026-12-07T10:01:00Z' },
              { name: 'gateway', message: 'https://gw/probe answered 401' },
            ],
          },
        },
      },
      painter(false),
    );
    expect(text).to.include('Issuer https://id.example.com/t/api: 1 of 2 server replica(s) serve key set v2');
    expect(text).to.include('signing allowed from 2026-12-07T10:05:30Z');
    expect(text).to.include('fetchers seen: 3, 1 with the new key');
    expect(text).to.match(/kube-apiserver\s+abcdef012345/);
    expect(text).to.match(/gateway\s+-\s.*answered 401/);
  });

  it('names who may still accept a compromised key', () => {
    const text = describeRotation(
      {
        ...base,
        status: {
          phase: 'Idle',
          observedGeneration: 1,
          issuer: {
            servers: 1,
            serversServingLatest: 1,
            compromisedKey: {
              fingerprint: '0123456789ab',
              mayBeAcceptedBy: ['kube-apiserver'],
              cachesExpireAt: '2026-12-07T11:00:00Z',
            },
          },
        },
      },
      painter(false),
    );
    expect(text).to.include(
      'compromised key 0123456789ab may still be accepted by: kube-apiserver; caches honouring max-age drop it by 2026-12-07T11:00:00Z',
    );
  });

  it('says nothing about an issuer when there is none', () => {
    const text = describeRotation(
      { ...base, spec: { secretName: 'api-jwt' }, status: { phase: 'Idle' } },
      painter(false),
    );
    expect(text).to.not.include('Issuer');
  });
});
