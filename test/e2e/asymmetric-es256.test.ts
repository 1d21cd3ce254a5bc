/** The asymmetric e2e rotation (./asymmetric-rotation.ts) with ES256 keys. */
import { describeAlgorithm } from './asymmetric-rotation.ts';

describeAlgorithm('ES256');
