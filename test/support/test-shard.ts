/**
 * Test files run side by side against one cluster (tools/test/run.ts), each in a worker process
 * that runs one file at a time. So that an operator started by one file never acts on another
 * file's JwtRotations, every JwtRotation a test makes carries this process's shard label
 * (createJwtRotation, jwtRotationManifest), and every operator process a test starts reconciles only
 * that shard (SHARD_SELECTOR, the operator's own sharding), unless the test sets its own selector.
 */
export const TEST_SHARD_LABEL = 'jwtrotation.io/test-shard';
let serial = 0;
let current = `w${String(process.pid)}-0`;

/**
 * A new shard for the next test file: called by the root beforeAll hook (./hooks.ts). A worker runs
 * several files one after another, and the namespaces of the file before may still be terminating
 * (with their JwtRotations) when the next file's operator starts, so the shard is per file, not per
 * process.
 */
export function newTestShard(): void {
  serial += 1;
  current = `w${String(process.pid)}-${String(serial)}`;
}

/** The current test file's shard. */
export function testShard(): string {
  return current;
}

export function testShardSelector(): string {
  return `${TEST_SHARD_LABEL}=${current}`;
}

export function testShardLabels(): Record<string, string> {
  return { [TEST_SHARD_LABEL]: current };
}
