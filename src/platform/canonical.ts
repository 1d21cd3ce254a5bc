import { configure } from 'safe-stable-stringify';

/**
 * JSON with sorted keys, so equal objects compare equal whatever order their fields came in: a
 * field set to undefined is absent, as in JSON. safe-stable-stringify (already winston's) sorts
 * keys as RFC 8785 does; a cycle throws instead of being written as a marker that could compare
 * equal.
 */
export const canonical: (value: unknown) => string | undefined = configure({
  deterministic: true,
  circularValue: TypeError,
});
