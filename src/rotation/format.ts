/** Formatting numbers for messages: one way to write a percentage across status, Events and the gate. */

/** 0.9734 → "97.34%"; undefined → "n/a". */
export function percent(fraction: number | undefined): string {
  return fraction === undefined ? 'n/a' : `${(fraction * 100).toFixed(2)}%`;
}

/** A copy without undefined fields, so equal status serialises equally. */
export function dropUndefined<T extends object>(value: { [K in keyof T]?: T[K] | undefined }): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
