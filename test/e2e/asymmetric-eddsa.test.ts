/** The asymmetric e2e rotation (./asymmetric-rotation.ts) with EdDSA keys. */
import { describeAlgorithm } from './asymmetric-rotation.ts';

describeAlgorithm('EdDSA');
