/**
 * The alert rules (deploy/prometheus/rules.yaml) checked and unit-tested by promtool (Debian's
 * prometheus package), and the PrometheusRule of deploy/prometheus equal to them. The chart's
 * copy is compared in helm-chart.test.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { expect } from 'chai';
import { parse } from 'yaml';

import { repoRoot } from '../support/cluster.ts';
import { run } from '../support/tools.ts';

const RULES = path.join(repoRoot, 'deploy/prometheus/rules.yaml');

interface Rule {
  alert: string;
  expr: string;
}

describe('the alert rules, with promtool', function () {
  this.timeout(60_000);

  it('pass promtool check rules', async () => {
    const out = await run('promtool', ['check', 'rules', RULES]);
    expect(out.code, out.stdout + out.stderr).to.equal(0);
    expect(out.stdout).to.match(/SUCCESS: 10 rules found/);
  });

  it('pass promtool test rules (test/prometheus/rules.test.yaml)', async () => {
    const out = await run('promtool', [
      'test',
      'rules',
      path.join(repoRoot, 'test/prometheus/rules.test.yaml'),
    ]);
    expect(out.code, out.stdout + out.stderr).to.equal(0);
    expect(out.stdout).to.include('SUCCESS');
  });

  it('alert on what the on-call engineer needs, using only metrics the operator exports', () => {
    const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap(
      (g) => g.rules,
    );
    expect(rules.map((r) => r.alert)).to.include.members([
      'JwtRotationKeyOlderThanInterval',
      'JwtRotationTakingTooLong',
      'JwtRotationNeedsAttention',
      'JwtRotationRolledBack',
      'JwtRotationOperatorDown',
      'JwtRotationNoLeader',
    ]);
    const exported = [
      ...readFileSync(path.join(repoRoot, 'src/platform/metrics.ts'), 'utf8').matchAll(
        /name: '(jwtrotation_[a-z_]+)'/g,
      ),
    ].map((m) => m[1]);
    for (const rule of rules) {
      const used = [...rule.expr.matchAll(/\b(jwtrotation_[a-z_]+)\b/g)].map((m) => m[1]);
      expect(used, rule.alert).to.not.be.empty;
      for (const metric of used) expect(exported, `${rule.alert} uses ${metric ?? ''}`).to.include(metric);
    }
  });

  it('are the rules of the PrometheusRule in deploy/prometheus', () => {
    const plain = parse(readFileSync(RULES, 'utf8')) as { groups: unknown };
    const object = parse(
      readFileSync(path.join(repoRoot, 'deploy/prometheus/prometheusrule.yaml'), 'utf8'),
    ) as {
      kind: string;
      spec: { groups: unknown };
    };
    expect(object.kind).to.equal('PrometheusRule');
    expect(object.spec.groups).to.deep.equal(plain.groups);
  });
});
