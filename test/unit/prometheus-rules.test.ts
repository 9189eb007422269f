import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { seedRegistry } from '../../examples/seed.ts';
import { ServeMetrics } from '../../serve/metrics.ts';
import { ReadGate } from '../../serve/read-gate.ts';
import { PromProcessMetrics } from '../../serve/process-metrics.ts';

// examples/prometheus/concord-alerts.yml, the alert rules docs/operations.md offers. promtool is not at
// hand, so its PromQL is checked here against what Concord registers: a renamed metric or label, a rate()
// over a gauge or a deriv() over a counter would leave an alert that never fires, without a word.
const rules = parse(readFileSync(new URL('../../examples/prometheus/concord-alerts.yml', import.meta.url), 'utf8')) as {
  groups: { name: string; rules: { alert: string; expr: string; for?: string; labels: Record<string, string>; annotations: Record<string, string> }[] }[];
};
const all = rules.groups.flatMap((g) => g.rules);

/** Every metric a Concord process registers (serve's with Redis, and the long-running processes'), with its type and labels. */
function registered(): Map<string, { type: string; labels: string[] }> {
  const serve = new ServeMetrics({ reader: {} as never, definitions: seedRegistry(), live: {} as never, gate: new ReadGate(), jobs: {} as never, log: {} as never, now: Date.now });
  const metrics = [...serve.registry.getMetricsAsArray(), ...new PromProcessMetrics().registry.getMetricsAsArray()];
  return new Map(metrics.filter((m) => m.name.startsWith('concord_')).map((m) => {
    const { type, labelNames } = m as unknown as { type: string; labelNames: string[] };
    return [m.name, { type, labels: [...labelNames] }];
  }));
}
const known = registered();
/** Labels Prometheus adds to every scraped series, and the bucket bound. */
const TARGET = ['instance', 'job'];

/** The metric a name in an expression is a series of: a histogram's `_bucket`, `_sum` and `_count` are its own. */
function metricOf(series: string): { name: string; type: string; labels: string[] } | undefined {
  const m = known.get(series);
  if (m) return { name: series, ...m };
  const base = /^(.*)_(bucket|sum|count)$/.exec(series);
  const h = base && known.get(base[1]!);
  if (h?.type === 'histogram') return { name: series, type: 'histogram', labels: [...h.labels, ...(base![2] === 'bucket' ? ['le'] : [])] };
  return undefined;
}

describe('examples/prometheus/concord-alerts.yml', () => {
  it('has the alerts an operator needs, each named once, with a severity and a summary', () => {
    const names = all.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const needed of ['ConcordStreamStalled', 'ConcordWatermarkNotAdvancing', 'ConcordConsumerLagGrowing', 'ConcordLateEventsSpike', 'ConcordDeadLetters',
      'ConcordUnexplainedDifferences', 'ConcordReconcileFailed', 'ConcordJobsFailing', 'ConcordStoreDown', 'ConcordSinkBehind']) expect(names).toContain(needed);
    for (const r of all) {
      expect(['critical', 'warning'], r.alert).toContain(r.labels.severity);
      expect(r.annotations.summary, r.alert).toBeTruthy();
      if (r.for !== undefined) expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
    }
  });

  it('queries only metrics Concord registers, by labels they have', () => {
    for (const r of all) {
      const series = [...r.expr.matchAll(/\bconcord_\w+/g)].map((m) => m[0]);
      expect(series.length, r.alert).toBeGreaterThan(0);
      const used = series.map((s) => metricOf(s));
      for (const [i, m] of used.entries()) expect(m, `${r.alert}: ${series[i]}`).toBeDefined();
      // A selector's matchers: labels of that metric.
      for (const sel of r.expr.matchAll(/\b(concord_\w+)\{([^}]*)\}/g)) {
        for (const label of [...sel[2]!.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]!)) expect(metricOf(sel[1]!)!.labels, `${r.alert}: ${sel[0]}`).toContain(label);
      }
      // by (...), on (...): labels of a metric of the expression, or target labels.
      const labels = new Set([...TARGET, ...used.flatMap((m) => m!.labels)]);
      for (const clause of r.expr.matchAll(/\b(?:by|on|without|ignoring)\s*\(([^)]*)\)/g)) {
        for (const label of clause[1]!.split(',').map((l) => l.trim()).filter(Boolean)) expect([...labels], `${r.alert}: ${clause[0]}`).toContain(label);
      }
      // The summary's labels: of a metric of the expression, or target labels.
      for (const t of `${r.annotations.summary}`.matchAll(/\$labels\.(\w+)/g)) expect([...labels], `${r.alert}: $labels.${t[1]}`).toContain(t[1]);
    }
  });

  it('takes rate()/increase() of counters (and histogram buckets) only, deriv() of gauges only', () => {
    for (const r of all) {
      for (const f of r.expr.matchAll(/\b(rate|irate|increase|deriv|changes)\(\s*(concord_\w+)/g)) {
        const m = metricOf(f[2]!)!;
        if (f[1] === 'deriv') expect(m.type, `${r.alert}: ${f[0]}`).toBe('gauge');
        else if (f[1] !== 'changes') expect(['counter', 'histogram'], `${r.alert}: ${f[0]}`).toContain(m.type);
      }
      for (const q of r.expr.matchAll(/histogram_quantile\([^,]+,[^)]*?(concord_\w+)/g)) expect(q[1], r.alert).toMatch(/_bucket$/);
      // Parentheses balance (a cheap guard against a cut expression).
      let depth = 0;
      for (const c of r.expr) { depth += c === '(' ? 1 : c === ')' ? -1 : 0; expect(depth, r.alert).toBeGreaterThanOrEqual(0); }
      expect(depth, r.alert).toBe(0);
    }
  });

  it('docs/operations.md lists exactly its alerts', () => {
    const docs = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    const section = docs.slice(docs.indexOf('### Alert rules'));
    const listed = [...section.slice(0, section.indexOf('\n## ')).matchAll(/^\| `(Concord\w+)` \|/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual(all.map((r) => r.alert).sort());
  });
});
