import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { pageViewsPerMinute } from '../../examples/seed.ts';
import { concord } from '../fixtures/cli.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// `report` of a past day said the pipeline's newest watermark as the day's ("watermark" of the day the
// stream is at now, on a report of last week). A day the stream has passed now says so; the JSON keeps
// status.watermark (the pipeline's newest) and adds stream_reached / stream_passed for the day.
const ws = tempWorkspace('concord-report-past-day-');
afterAll(() => ws.cleanup());

const P = pageViewsPerMinute.name;
const M = 60_000;
const DAY1 = '2026-11-23', DAY2 = '2026-11-24';
const T1 = Date.UTC(2026, 10, 23, 10), T2 = Date.UTC(2026, 10, 24, 10);
const clicks = (t0: number, tag: string) => [0, 1, 2, 20].map((m) => JSON.stringify({ event_id: `${tag}${m}`, ts: t0 + m * M, url: '/a', visitor_id: `v${m}` }));

describe('report of a day the stream has passed', () => {
  it('says the stream passed it, not the newest watermark (of a later day); the day the stream is in keeps its watermark', async () => {
    const store = `duckdb:${join(ws.dir, 'store.duckdb')}`;
    const input = join(ws.dir, 'two-days.jsonl');
    await writeFile(input, [...clicks(T1, 'd1-'), ...clicks(T2, 'd2-')].join('\n') + '\n');
    const s = concord(['stream', '--pipeline', P, '--input', input, '--output', `${input}.out`, '--store', store, '--max-out-of-orderness', '1s', '--allowed-lateness', '0s']);
    expect(s.code, s.stderr).toBe(0);
    const newest = '2026-11-24T10:19:58.999Z';

    const past = concord(['report', '--date', DAY1, '--pipeline', P, '--store', store]);
    expect(past.code, past.stderr).toBe(0);
    expect(past.stdout).toMatch(/Day \w+ \(the stream has passed this day\); live version 0/);
    expect(past.stdout).not.toContain(newest);
    const json = JSON.parse(concord(['report', '--date', DAY1, '--pipeline', P, '--store', store, '--format', 'json']).stdout) as { pipelines: Record<string, unknown>[] };
    expect(json.pipelines[0]).toMatchObject({ stream_reached: true, stream_passed: true, status: { watermark: Date.parse(newest), watermark_at: newest } });

    const current = concord(['report', '--date', DAY2, '--pipeline', P, '--store', store]);
    expect(current.stdout).toContain(`(watermark ${newest}); live version 0`);
    const later = JSON.parse(concord(['report', '--date', '2026-11-25', '--pipeline', P, '--store', store, '--format', 'json']).stdout) as { pipelines: Record<string, unknown>[] };
    expect(later.pipelines[0]).toMatchObject({ stream_reached: false, stream_passed: false });
  }, 120_000);
});
