import { expect } from 'chai';
import { canonical } from '../../src/platform/canonical.ts';

describe('canonical', () => {
  it('is equal for objects with the same content in a different key order', () => {
    const a = { phase: 'Idle', currentKeyFingerprint: 'aaaaaaaaaaaa', observedGeneration: 2 };
    const b = { observedGeneration: 2, currentKeyFingerprint: 'aaaaaaaaaaaa', phase: 'Idle' };
    expect(canonical(a)).to.equal(canonical(b));
  });

  it('is equal for nested objects, also inside arrays, whose keys come in a different order', () => {
    const a = {
      gate: { health: 'Pass', readings: { newKeyShare: 0.9, samples: 100 } },
      conditions: [{ type: 'Ready', status: 'True', reason: 'Idle' }],
    };
    const b = {
      conditions: [{ reason: 'Idle', status: 'True', type: 'Ready' }],
      gate: { readings: { samples: 100, newKeyShare: 0.9 }, health: 'Pass' },
    };
    expect(canonical(a)).to.equal(canonical(b));
  });

  it('is different when a value differs', () => {
    expect(canonical({ phase: 'Idle', n: 1 })).to.not.equal(canonical({ phase: 'DualKey', n: 1 }));
    expect(canonical({ gate: { readings: { samples: 100 } } })).to.not.equal(
      canonical({ gate: { readings: { samples: 101 } } }),
    );
  });

  it('is different when a field is added or removed', () => {
    expect(canonical({ phase: 'Idle' })).to.not.equal(canonical({ phase: 'Idle', trigger: 'Manual' }));
  });

  it('is different when the order of an array differs', () => {
    expect(canonical({ history: ['a', 'b'] })).to.not.equal(canonical({ history: ['b', 'a'] }));
  });

  it('is different for a number and the same digits as a string', () => {
    expect(canonical({ observedGeneration: 2 })).to.not.equal(canonical({ observedGeneration: '2' }));
  });

  it('treats a field set to undefined as absent', () => {
    expect(canonical({ phase: 'Idle', trigger: undefined })).to.equal(canonical({ phase: 'Idle' }));
  });

  it('is equal for an empty object and one whose fields are all undefined', () => {
    expect(canonical({ gate: undefined, trigger: undefined })).to.equal(canonical({}));
  });

  it('is different for an empty object and an empty array', () => {
    expect(canonical({ history: {} })).to.not.equal(canonical({ history: [] }));
  });

  it('refuses a cycle rather than writing a marker that two different objects could share', () => {
    const a: Record<string, unknown> = { phase: 'Idle' };
    a.self = a;
    expect(() => canonical(a)).to.throw(TypeError);
  });
});
