import { expect } from 'chai';
import type { Condition } from '../../src/api/types.ts';
import { mergeConditions, turnedTo, type ConditionSpec } from '../../src/rotation/conditions.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const LATER = T0 + 3_600_000 + 500;
const EARLIER_TEXT = '2026-01-01T00:00:00Z';
const LATER_TEXT = '2026-01-01T01:00:00Z';

const previous: Condition[] = [
  {
    type: 'Ready',
    status: 'True',
    observedGeneration: 1,
    lastTransitionTime: EARLIER_TEXT,
    reason: 'Idle',
    message: 'Key aaaaaaaaaaaa in use',
  },
  {
    type: 'Reconciling',
    status: 'False',
    observedGeneration: 1,
    lastTransitionTime: EARLIER_TEXT,
    reason: 'Idle',
    message: 'No rotation in progress',
  },
];

describe('mergeConditions', () => {
  it('keeps lastTransitionTime when the status did not change, while taking the new reason and message', () => {
    const wanted: ConditionSpec[] = [
      { type: 'Ready', status: 'True', reason: 'Idle', message: 'Key bbbbbbbbbbbb in use' },
    ];
    const [ready] = mergeConditions(previous, wanted, 1, LATER);
    expect(ready).to.deep.equal({
      type: 'Ready',
      status: 'True',
      observedGeneration: 1,
      lastTransitionTime: EARLIER_TEXT,
      reason: 'Idle',
      message: 'Key bbbbbbbbbbbb in use',
    });
  });

  it('sets lastTransitionTime to now, in whole seconds, when the status changed', () => {
    const wanted: ConditionSpec[] = [
      { type: 'Ready', status: 'False', reason: 'DualKey', message: 'Rolling Deployment api' },
    ];
    const [ready] = mergeConditions(previous, wanted, 1, LATER);
    expect(ready?.status).to.equal('False');
    expect(ready?.lastTransitionTime).to.equal(LATER_TEXT);
  });

  it('sets lastTransitionTime to now for a condition that was not there before', () => {
    const wanted: ConditionSpec[] = [
      { type: 'Stalled', status: 'False', reason: 'NotStalled', message: 'Making progress or idle' },
    ];
    const [stalled] = mergeConditions(previous, wanted, 1, LATER);
    expect(stalled?.lastTransitionTime).to.equal(LATER_TEXT);
  });

  it('sets lastTransitionTime to now for every condition when there were none', () => {
    const wanted: ConditionSpec[] = [
      { type: 'Ready', status: 'True', reason: 'Idle', message: 'idle' },
      { type: 'Reconciling', status: 'False', reason: 'Idle', message: 'idle' },
    ];
    const merged = mergeConditions(undefined, wanted, 1, LATER);
    expect(merged.map((c) => c.lastTransitionTime)).to.deep.equal([LATER_TEXT, LATER_TEXT]);
  });

  it('sets observedGeneration on every condition, changed or not', () => {
    const wanted: ConditionSpec[] = [
      { type: 'Ready', status: 'True', reason: 'Idle', message: 'idle' },
      { type: 'Reconciling', status: 'True', reason: 'DualKey', message: 'rolling' },
    ];
    const merged = mergeConditions(previous, wanted, 4, LATER);
    expect(merged.map((c) => c.observedGeneration)).to.deep.equal([4, 4]);
  });

  it('lists the wanted conditions in the wanted order and drops the ones no longer wanted', () => {
    const wanted: ConditionSpec[] = [
      { type: 'Stalled', status: 'False', reason: 'NotStalled', message: 'ok' },
      { type: 'Ready', status: 'True', reason: 'Idle', message: 'idle' },
    ];
    const merged = mergeConditions(previous, wanted, 1, LATER);
    expect(merged.map((c) => c.type)).to.deep.equal(['Stalled', 'Ready']);
  });

  it('gives the same list when merged again with the same wanted conditions later', () => {
    const wanted: ConditionSpec[] = [
      { type: 'Ready', status: 'False', reason: 'DualKey', message: 'rolling' },
      { type: 'Reconciling', status: 'True', reason: 'DualKey', message: 'rolling' },
    ];
    const first = mergeConditions(previous, wanted, 2, LATER);
    const second = mergeConditions(first, wanted, 2, LATER + 60_000);
    expect(second).to.deep.equal(first);
  });
});

describe('turnedTo', () => {
  it('is true when the condition was absent before', () => {
    expect(turnedTo(previous, 'Stalled', 'True')).to.equal(true);
    expect(turnedTo(undefined, 'Ready', 'True')).to.equal(true);
  });

  it('is true when the condition had another status', () => {
    expect(turnedTo(previous, 'Ready', 'False')).to.equal(true);
  });

  it('is false when the condition already had this status', () => {
    expect(turnedTo(previous, 'Ready', 'True')).to.equal(false);
  });

  it('is true when the status is the same but the reason asked for differs', () => {
    expect(turnedTo(previous, 'Ready', 'True', 'Suspended')).to.equal(true);
  });

  it('is false when both the status and the reason asked for are the same', () => {
    expect(turnedTo(previous, 'Ready', 'True', 'Idle')).to.equal(false);
  });
});
