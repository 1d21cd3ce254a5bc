/**
 * Test files run side by side against one cluster (tools/test/run.ts), each in a worker process
 * that runs one file at a time. So that an operator started by one file never acts on another
 * file's JwtRotations, every JwtRotation a test makes carries this process's shard label
 * (createJwtRotation, jwtRotationManifest), and every operator process a test starts reconciles only
 * that shard (SHARD_SELECTOR, the operator's own sharding), unless the test sets its own selector.
 */
export const TEST_SHARD_LABEL = 'jwtrotation.io/test-shard';
export const testShard = `w${String(process.pid)}`;
export const testShardSelector = `${TEST_SHARD_LABEL}=${testShard}`;
export const testShardLabels: Readonly<Record<string, string>> = { [TEST_SHARD_LABEL]: testShard };
