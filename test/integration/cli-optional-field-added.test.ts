import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// The store's day end to end over an archive whose older files lack an optional field added later:
// `stream --store`, `reconcile --date` (every cell explained) and `backfill --date` of an old-schema
// file archived after the reconcile (its cells keyed on the field: none of its files has the column).
const ws = tempWorkspace('concord-cli-optional-');
afterAll(() => ws.cleanup());

const T = Date.UTC(2024, 0, 1);
const iso = (ms: number) => new Date(ms).toISOString();
const schema = (extra: Record<string, string>) => ({ s: { time: 'ts', id: 'id', fields: { id: 'string', ts: 'timestamp', site: 'string', ...extra } } });
const win = { window: { tumbling: '10m' } };
const pipelines = {
  stats: { input: 's', key: 'site', ...win, aggregates: { n: 'count', sum: ['sum', 'level'], d: ['count_distinct', 'level'], ad: ['approx_distinct', 'level'] } },
  by_level: { input: 's', key: 'level', ...win, aggregates: { n: 'count' } },
};

describe('stream --store, reconcile --date and backfill --date with an optional field added after part of the archive', () => {
  it('explains every cell, and backfills the day with the field null in the old files', () => {
    const file = (name: string, content: unknown) => {
      const path = join(ws.dir, name);
      writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
      return path;
    };
    const jsonl = (es: object[]) => es.map((e) => JSON.stringify(e)).join('\n') + '\n';
    const oldDefs = file('old.json', { schemas: schema({}), pipelines: { stats: { input: 's', key: 'site', ...win, aggregates: { n: 'count' } } } });
    const newDefs = file('new.json', { schemas: schema({ level: 'int?' }), pipelines });
    const old = Array.from({ length: 30 }, (_, i) => ({ id: `o${i}`, ts: iso(T + i * 30_000), site: i % 2 ? 'a' : 'b' }));
    const added = Array.from({ length: 30 }, (_, i) => ({ id: `n${i}`, ts: iso(T + 900_000 + i * 30_000), site: 'a', ...(i % 3 ? { level: i % 4 } : {}) }));
    const later = Array.from({ length: 4 }, (_, i) => ({ id: `x${i}`, ts: iso(T + 1_500_000 + i * 1000), site: 'c' }));
    const archive = join(ws.dir, 'archive');
    const store = `duckdb:${join(ws.dir, 'store.duckdb')}`;
    const ok = (args: string[]) => {
      const r = concord(args);
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0);
      return r;
    };
    ok(['archive', '--schema', 's', '--input', file('old.jsonl', jsonl(old)), '--dir', archive, '--definitions', oldDefs]);
    ok(['archive', '--schema', 's', '--input', file('new.jsonl', jsonl(added)), '--dir', archive, '--definitions', newDefs]);
    const all = file('all.jsonl', jsonl([...old, ...added]));
    for (const p of Object.keys(pipelines)) ok(['stream', '--pipeline', p, '--input', all, '--output', `${all}.${p}`, '--store', store, '--definitions', newDefs]);
    const reconciled = ok(['reconcile', '--date', '2024-01-01', '--archive', archive, '--store', store, '--report-dir', join(ws.dir, 'reports'), '--definitions', newDefs]);
    // Every cell equal (cells = equal; nothing mismatched, missing, extra or unexplained).
    expect(reconciled.stdout).toMatch(/\| stats \| reconciled \| 1 \| 5 \| 5 \| 0 \| 0 \| 0 \| [^|]+ \| [^|]+ \| 0 \|/);
    expect(reconciled.stdout).toMatch(/\| by_level \| reconciled \| 1 \| 11 \| 11 \| 0 \| 0 \| 0 \| [^|]+ \| [^|]+ \| 0 \|/);
    // An old-schema file written after the reconcile: its cells are found (keyed on `level`: null) and backfilled.
    ok(['archive', '--schema', 's', '--input', file('later.jsonl', jsonl(later)), '--dir', archive, '--definitions', oldDefs]);
    const backfilled = ok(['backfill', '--date', '2024-01-01', '--archive', archive, '--store', store, '--definitions', newDefs]);
    expect(backfilled.stdout).toMatch(/stats 2024-01-01: 1 dirty cells, 1 recomputed, 1 changed/);
    expect(backfilled.stdout).toMatch(/by_level 2024-01-01: 1 dirty cells, 1 recomputed, 1 changed/);
    const cells = ok(['report', '--date', '2024-01-01', '--store', store, '--format', 'csv', '--definitions', newDefs]).stdout;
    expect(cells).toContain('stats,2024-01-01T00:20:00.000Z,2024-01-01T00:30:00.000Z,"{""site"":""c""}","{""n"":4,""sum"":null,""d"":0,""ad"":0}",0,backfill');
    // Window 20-30 min: the 6 new events without a level and the 4 later old-schema ones.
    expect(cells).toContain('by_level,2024-01-01T00:20:00.000Z,2024-01-01T00:30:00.000Z,"{""level"":null}","{""n"":10}",1,backfill');
  }, 180_000);
});
