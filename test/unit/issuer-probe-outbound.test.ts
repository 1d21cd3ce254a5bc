/**
 * The relying-party probes of spec.issuer go only where the operator may send requests
 * (OUTBOUND_HOSTS, src/platform/outbound.ts), like the Prometheus queries and the notifications: a
 * tenant cannot aim the operator's requests (and a token signed with its key) at any other host.
 * The signer is the real one (jose) over a real ES256 key; the prober records what it is asked to do.
 */
import { expect } from 'chai';

import type { RelyingPartySpec } from '../../src/api/types.ts';
import { generateKey, type KeyScheme } from '../../src/platform/keys.ts';
import type { OutboundPolicy } from '../../src/platform/outbound.ts';
import { signProbeToken } from '../../src/platform/probe-token.ts';
import { probeRelyingParty } from '../../src/reconcile/gather.ts';
import type { ProbePlan } from '../../src/rotation/issuer.ts';
import { T0 } from '../support/builders.ts';
import { ManualClock } from '../support/test-clocks.ts';

const scheme: KeyScheme = { algorithm: 'ES256', rsaKeySize: 2048 };
const policy: OutboundPolicy = { hosts: ['*.svc', 'gateway.example.internal'], allowHttpReceivers: false };

function setup() {
  const probed: { rp: string; token: string }[] = [];
  const deps = {
    clock: new ManualClock(T0),
    outbound: policy,
    probeSigner: signProbeToken,
    prober: {
      probe: (rp: RelyingPartySpec, token: string) => {
        probed.push({ rp: rp.name, token });
        return Promise.resolve({ outcome: 'Accepted' as const, message: 'accepted' });
      },
    },
  };
  return { deps, probed };
}

function planFor(rp: RelyingPartySpec): ProbePlan {
  return {
    issuer: {
      url: 'https://issuer.example.internal/api',
      maxAgeMs: 30_000,
      cacheMarginMs: 30_000,
      probeIntervalMs: 10_000,
      probeSubject: 'system:jwt-probe',
      relyingParties: [rp],
    },
    slot: 'JWT_SECRET_NEW',
    fingerprint: 'aaaaaaaaaaaa',
    relyingParties: [rp],
  };
}

describe('relying-party probes and the outbound allowlist', () => {
  const pem = generateKey(0, scheme);

  for (const url of ['https://attacker.example.com/collect', 'https://10.0.0.1/', 'file:///etc/passwd']) {
    it(`sends no probe to ${url}, a URL outside OUTBOUND_HOSTS, and says why`, async () => {
      const { deps, probed } = setup();
      const rp = { name: 'outside', http: { url } } as RelyingPartySpec;
      const result = await probeRelyingParty(rp, planFor(rp), pem, scheme, deps);
      expect(probed, 'nothing signed and sent').to.deep.equal([]);
      expect(result).to.deep.include({ name: 'outside', outcome: 'Error', fingerprint: 'aaaaaaaaaaaa' });
      expect(result.message).to.match(/no probe was sent/);
    });
  }

  it('probes an allowed host, and a kubernetes relying party (the API server itself)', async () => {
    const { deps, probed } = setup();
    const gateway = {
      name: 'gateway',
      http: { url: 'https://gateway.example.internal/check' },
    } as RelyingPartySpec;
    const kube = { name: 'kube-apiserver', kubernetes: {} } as RelyingPartySpec;
    for (const rp of [gateway, kube]) {
      const result = await probeRelyingParty(rp, planFor(rp), pem, scheme, deps);
      expect(result).to.deep.include({ outcome: 'Accepted' });
    }
    expect(probed.map((p) => p.rp)).to.deep.equal(['gateway', 'kube-apiserver']);
    // A real JWT, signed with the key (three base64url parts), not the key itself.
    for (const p of probed) expect(p.token.split('.')).to.have.length(3);
    expect(probed.map((p) => p.token).join()).to.not.include('PRIVATE KEY');
  });
});
