/**
 * If-None-Match (RFC 9110 section 13.1.2): `*`, or a list of entity tags compared weakly (`W/"v1"`
 * matches `"v1"`). A header that cannot be read as either matches nothing, so the client gets the
 * full document rather than a 304 it did not ask for.
 */
const TAG = /\s*(?:W\/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)/y;

/** Whether a request with this If-None-Match header (or headers, when repeated) gets 304 for `etag`. */
export function ifNoneMatchMatches(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const value = Array.isArray(header) ? header.join(', ') : header;
  if (value.trim() === '*') return true;
  TAG.lastIndex = 0;
  let matched = false;
  while (TAG.lastIndex < value.length) {
    const start = TAG.lastIndex;
    const match = TAG.exec(value);
    if (match === null) {
      // Empty list members (`"a", , "b"`) are allowed; anything else makes the header unreadable.
      const rest = value.slice(start);
      const empty = /^\s*,/.exec(rest);
      if (empty === null) return rest.trim() === '' && matched;
      TAG.lastIndex = start + empty[0].length;
      continue;
    }
    if (match[1] === etag) matched = true;
    if (TAG.lastIndex === start) break;
  }
  return matched;
}
