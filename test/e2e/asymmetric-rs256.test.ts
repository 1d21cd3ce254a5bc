/** The asymmetric e2e rotation (./asymmetric-rotation.ts) with RS256 keys. */
import { describeAlgorithm } from './asymmetric-rotation.ts';

describeAlgorithm('RS256');
