/**
 * The set-up every operator integration suite shares: the local control plane, the CRD,
 * API clients, and one operator process watching every namespace, stopped after the suite.
 * Whatever happened, the operator's output must not contain anything key-like.
 */
import { expect } from 'chai';
import { useCluster, type TestCluster } from './cluster.ts';
import { installCrd } from './crd.ts';
import { clients, type Clients } from './jwt-rotations.ts';
import { startOperatorProcess, type OperatorProcess } from './operator.ts';

export interface OperatorSuite {
  cluster: TestCluster;
  c: Clients;
  /** Replace it to restart the operator; the suite stops whichever is current. */
  operator: OperatorProcess;
  /** Starts a fresh operator process (after the current one was stopped), with extra environment if given. */
  restartOperator(env?: Record<string, string>): Promise<OperatorProcess>;
}

/** Call inside describe(): registers before/after hooks and returns the suite's handles, filled in before the tests. */
export function operatorSuite(options: { withOperator?: boolean } = {}): OperatorSuite {
  const suite = {} as OperatorSuite;
  const outputs: (() => string)[] = [];
  const start = async (env: Record<string, string> = {}): Promise<OperatorProcess> => {
    const operator = await startOperatorProcess({ kubeconfigPath: suite.cluster.kubeconfigPath, env });
    outputs.push(() => operator.output());
    suite.operator = operator;
    return operator;
  };
  before(async function () {
    this.timeout(1_800_000); // a cold first start builds the control plane
    suite.cluster = await useCluster();
    await installCrd(suite.cluster);
    suite.c = clients(suite.cluster);
    suite.restartOperator = start;
    if (options.withOperator ?? true) await start();
  });
  after(async () => {
    await (suite as Partial<OperatorSuite>).operator?.stop();
    for (const output of outputs) expect(output()).to.not.match(/[A-Za-z0-9+/]{80,}={0,2}/);
  });
  return suite;
}
