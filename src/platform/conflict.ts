/**
 * The one conflict error of the operator. An adapter throws it when an object changed between
 * the read and the write (a resourceVersion mismatch, or a create of something that appeared
 * meanwhile); the shell sees it through src/reconcile/ports.ts. It lives here, below both,
 * because adapters do not import the shell.
 *
 * Nothing catches it to carry on: the work queue retries the pass with backoff, and the next pass
 * reads again. That retry is the only one meant.
 */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}
