import type { EventSpec } from './model.ts';
import type { EventReason } from './reasons.ts';

export function normal(reason: EventReason, message: string): EventSpec {
  return { type: 'Normal', reason, message };
}

export function warning(reason: EventReason, message: string): EventSpec {
  return { type: 'Warning', reason, message };
}
