import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concordOk, jsonLines } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Events whose fields sit in nested objects (`{"user": {"id": "u1"}, "page": {"url": "/p1"}}`), read by
// the schema's `paths`, some flat, some under an alias: `stream`, `archive` + `replay` and `reconcile`
// through the real CLI agree with each other and with counts made here from the events; the events a
// path does not lead to a value are dead letters in the stream and the archive alike, each reason
// naming the path.
const ws = tempWorkspace('concord-nested-');
afterAll(() => ws.cleanup());

const defs = {
  schemas: { clicks: {
    time: 'ts', id: 'event_id', key: 'user_id',
    fields: { event_id: 'string', ts: 'timestamp', user_id: 'string', url: 'string', ms: 'int?' },
    aliases: { user_id: 'uid' },
    paths: { user_id: 'user.id', url: 'page.url', ms: ['timing', 'load.ms'] },
  } },
  pipelines: {
    per_url: { input: 'clicks', key: 'url', window: { tumbling: '1m' }, aggregates: { n: 'count', users: ['count_distinct', 'user_id'], ms: ['sum', 'ms'] } },
    busy_user: { input: 'clicks', key: 'user_id', rule: { within: '1m', count: true, more_than: 2, output: 'n' } },
  },
};

const T = Date.UTC(2026, 10, 23, 10);
interface Click { id: string; ts: number; user: string; url: string; ms?: number }
const clicks: Click[] = Array.from({ length: 40 }, (_, i) => ({ id: `e${i}`, ts: T + i * 5_000, user: `u${i % 3}`, url: `/p${i % 4}`, ...(i % 4 === 1 ? { ms: i } : {}) }));
/** Each click as a producer writes it: mostly nested, some flat, some under the alias. */
function written(c: Click, i: number): Record<string, unknown> {
  const e: Record<string, unknown> = { event_id: c.id, ts: new Date(c.ts).toISOString() };
  const timing = c.ms === undefined ? {} : { timing: { 'load.ms': c.ms } };
  if (i % 5 === 0) return { ...e, user_id: c.user, url: c.url, ...timing };
  if (i % 7 === 0) return { ...e, uid: c.user, page: { url: c.url }, ...timing };
  return { ...e, user: { id: c.user, name: 'x' }, page: { url: c.url, ref: '/' }, ...timing };
}
const at = new Date(T + 60_000).toISOString();
const refused = [
  [{ event_id: 'bad1', ts: at, user: 'u1', page: { url: '/p1' } }, 'user_id: expected an object at "user", got string "u1"'],
  [{ event_id: 'bad2', ts: at, user: { id: 'u1' }, page: ['/p1'] }, 'url: expected an object at "page", got an array'],
  [{ event_id: 'bad3', ts: at, page: { url: '/p1' } }, 'user_id: is required (nor as "uid", nor at "user.id": no "user" in the event)'],
  [{ event_id: 'bad4', ts: at, user: { id: 'u1' }, page: { url: '/p1' }, timing: 7 }, 'ms: expected an object at "timing", got number 7'],
] as const;

/** per_url's rows from the clicks themselves: per minute and url, the count, distinct users and the sum of ms. */
function expectedPerUrl(): string[] {
  const cells = new Map<string, Click[]>();
  for (const c of clicks) {
    const start = c.ts - (c.ts % 60_000);
    const id = JSON.stringify([start, c.url]);
    cells.set(id, [...(cells.get(id) ?? []), c]);
  }
  return [...cells].map(([id, cs]) => {
    const [start, url] = JSON.parse(id) as [number, string];
    const ms = cs.filter((c) => c.ms !== undefined);
    return JSON.stringify([new Date(start).toISOString(), url, cs.length, new Set(cs.map((c) => c.user)).size, ms.length === 0 ? null : ms.reduce((s, c) => s + c.ms!, 0)]);
  }).sort();
}

describe('nested fields through stream, archive, replay and reconcile (CLI)', () => {
  it('the stream and the replay of the archive agree, and with the events; refused events are counted alike', () => {
    const definitions = ws.file('defs.json', [defs]);
    const input = ws.file('nested.jsonl', [...clicks.map(written), ...refused.map(([e]) => e)]);
    const archive = join(ws.dir, 'archive');
    const ok = (args: string[]) => concordOk([...args, '--definitions', definitions]);
    const archived = ok(['archive', '--schema', 'clicks', '--input', input, '--dir', archive]);
    expect(archived.stderr).toContain(`archived ${clicks.length} clicks events into 1 Parquet files, ${refused.length} rejected`);
    const rejected = readdirSync(join(archive, 'clicks', '_rejected')).flatMap((f) => jsonLines(readFileSync(join(archive, 'clicks', '_rejected', f), 'utf8')));
    expect(rejected.map((d) => d.reason)).toEqual(refused.map(([, reason]) => reason));

    for (const pipeline of Object.keys(defs.pipelines)) {
      const out = join(ws.dir, `${pipeline}.stream.jsonl`), dead = join(ws.dir, `${pipeline}.dlq.jsonl`), replayed = join(ws.dir, `${pipeline}.replay.jsonl`);
      const streamed = ok(['stream', '--pipeline', pipeline, '--input', input, '--output', out, '--final', '--dead-letter', dead]);
      expect(streamed.stderr).toContain(`${clicks.length} events`);
      expect(streamed.stderr).toContain(`${refused.length} rejected`);
      expect(jsonLines(readFileSync(dead, 'utf8')).map((d) => [d.offset, d.reason])).toEqual(refused.map(([, reason], i) => [clicks.length + i, reason]));
      ok(['replay', '--pipeline', pipeline, '--input', archive, '--output', replayed]);
      const rows = (path: string) => jsonLines(readFileSync(path, 'utf8')).map(({ watermark: _w, revision: _r, ...row }) => JSON.stringify(row)).sort();
      expect(rows(out).length).toBeGreaterThan(0);
      expect(rows(replayed)).toEqual(rows(out));
      if (pipeline === 'per_url') {
        expect(jsonLines(readFileSync(out, 'utf8')).map((r) => JSON.stringify([r.window_start, r.url, r.n, r.users, r.ms])).sort()).toEqual(expectedPerUrl());
      } else {
        // Keyed by the nested key: every user alerts (each has > 2 clicks within a minute), by name.
        expect(new Set(jsonLines(readFileSync(out, 'utf8')).map((r) => r.user_id))).toEqual(new Set(['u0', 'u1', 'u2']));
      }
      const reconciled = ok(['reconcile', '--pipeline', pipeline, '--realtime', out, '--archive', archive, '--output', join(ws.dir, `${pipeline}.report.json`), '--dead-letter', dead, '--fail-on-unexplained']);
      expect(reconciled.stdout + reconciled.stderr).toMatch(new RegExp(`${pipeline}: 0 differences`));
    }

    // explain says where each field is read, in the order tried.
    const explained = ok(['explain', '--pipeline', 'per_url']).stdout;
    expect(explained).toContain('user_id read as "user_id", then "uid", then at "user.id"');
    expect(explained).toContain('ms read as "ms", then at ["timing","load.ms"]');
  }, 180_000);
});
