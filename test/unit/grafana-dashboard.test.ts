import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { seedRegistry } from '../../examples/seed.ts';
import { ServeMetrics } from '../../serve/metrics.ts';
import { ReadGate } from '../../serve/read-gate.ts';
import { PromProcessMetrics } from '../../serve/process-metrics.ts';

// examples/grafana/concord-operations.json, the dashboard docs/operations.md offers for import: a panel
// over a metric no Concord process exports (a typo, a renamed metric) would stay empty without a word.
const dashboard = JSON.parse(readFileSync(new URL('../../examples/grafana/concord-operations.json', import.meta.url), 'utf8'));

/** Every metric a Concord process registers: serve's (with Redis) and the long-running processes'. */
function exported(): Set<string> {
  const serve = new ServeMetrics({ reader: {} as never, definitions: seedRegistry(), live: {} as never, gate: new ReadGate(), jobs: {} as never, log: {} as never, now: Date.now });
  const names = [...serve.registry.getMetricsAsArray(), ...new PromProcessMetrics().registry.getMetricsAsArray()].map((m) => m.name);
  return new Set(names.filter((n) => n.startsWith('concord_')));
}

describe('the Grafana dashboard for Concord\'s metrics', () => {
  const panels = dashboard.panels.filter((p: { type: string }) => p.type !== 'row');
  const exprs: string[] = panels.flatMap((p: { targets: { expr: string }[] }) => p.targets.map((t) => t.expr));

  it('queries only metrics Concord exports (histograms by their _bucket series)', () => {
    const known = exported();
    const used = new Set(exprs.flatMap((e) => e.match(/\bconcord_[a-z_]+/g) ?? []).map((m) => m.replace(/_bucket$/, '')));
    expect(used.size).toBeGreaterThan(15);
    for (const m of used) expect(known, m).toContain(m);
  });

  // A worker and an archiver both read an input topic, each with its own group and lag: summed by topic
  // alone, the panel showed their total, behind by neither's count.
  it('keeps each process\'s consumer lag apart (by instance)', () => {
    const lag = exprs.filter((e) => e.includes('concord_consumer_lag_records'));
    expect(lag.length).toBeGreaterThan(0);
    for (const e of lag) expect(/\bby \(([^)]*)\)/.exec(e)?.[1]?.split(',').map((l) => l.trim()), e).toContain('instance');
  });

  it('is importable: one Prometheus data source input, unique panel ids, panels inside the 24-column grid', () => {
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })]);
    const ids = dashboard.panels.map((p: { id: number }) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    for (const p of panels) expect(p.datasource.uid, p.title).toBe('${DS_PROMETHEUS}');
  });
});
