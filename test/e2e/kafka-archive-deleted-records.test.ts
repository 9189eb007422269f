import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteRecordsBefore } from '../../stream/kafka/admin.ts';
import { kafkaSettings } from '../../stream/kafka/common.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { concord } from '../fixtures/cli.ts';
import { deleteTopic } from '../fixtures/kafka-topics.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Records deleted from the input topic (retention while the archiver was down, DeleteRecords) before
// the archiver read them: it resumed at the topic's first record and said nothing, exit 0 ("archived
// 9000 ... of 9000 records read" with 3,000 gone); the hole showed only in the next day's reconcile, and
// not at all before an archive's first offset (a new archive: every cell the stream counted from them
// "unexplained").
const ws = tempWorkspace('concord-archive-deleted-');
const prefix = `h-kafkaops-dr${randomUUID().slice(0, 6)}.`;
const env = { CONCORD_TOPIC_PREFIX: prefix };
const topic = topicNames(prefix).input('clicks');

afterAll(async () => {
  await deleteTopic(topic).catch(() => undefined);
  ws.cleanup();
});

const clicks = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({
  event_id: `e${from + i}`, ts: `2026-11-23T10:${String(Math.floor((from + i) / 10) % 60).padStart(2, '0')}:${String((from + i) % 10).padStart(2, '0')}Z`,
  url: `/p${(from + i) % 7}`, visitor_id: `v${i % 50}`,
}));

describe('records deleted from the topic before the archiver read them', () => {
  it('are said, counted, and the gap they leave is archive_gap in reconcile', async () => {
    const first = ws.file('first.jsonl', clicks(0, 200)), second = ws.file('second.jsonl', clicks(200, 200));
    const dir = join(ws.dir, 'archive');
    expect(concord(['produce', '--schema', 'clicks', '--input', first, '--partitions', '1'], env).code).toBe(0);
    const a1 = concord(['archive', '--from-kafka', '--schema', 'clicks', '--dir', dir, '--stop-when-idle', '1s'], env);
    expect(a1.code, a1.stderr).toBe(0);
    expect(concord(['produce', '--schema', 'clicks', '--input', second], env).code).toBe(0);
    await deleteRecordsBefore(kafkaSettings('concord-test'), topic, new Map([[0, 300]]));

    const a2 = concord(['archive', '--from-kafka', '--schema', 'clicks', '--dir', dir, '--stop-when-idle', '1s'], env);
    expect(a2.code, a2.stderr).toBe(0);
    expect(a2.stderr).toContain(`${topic}:0: records 200..299 (100) were deleted from the topic (retention, DeleteRecords) before this archive got them: the archive has a gap there, which reconcile names archive_gap`);
    expect(a2.stderr).toContain('archived 100 clicks events');
    expect(a2.stderr).toContain('; 100 records were deleted from the topic before they were archived');
    // What the stream saw (every event) against the archive: the difference is the gap's, by name.
    const all = ws.file('all.jsonl');
    writeFileSync(all, readFileSync(first, 'utf8') + readFileSync(second, 'utf8'));
    const realtime = join(ws.dir, 'realtime.jsonl'), report = join(ws.dir, 'report.json');
    expect(concord(['stream', '--pipeline', 'page_views_per_minute', '--input', all, '--output', realtime, '--final'], env).code).toBe(0);
    const r = concord(['reconcile', '--pipeline', 'page_views_per_minute', '--realtime', realtime, '--archive', dir, '--output', report], env);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(report, 'utf8')) as { different: number; causes: Record<string, number>; evidence: { archive_gaps: number } };
    expect(rep.evidence.archive_gaps).toBe(100);
    expect(rep.different).toBeGreaterThan(0);
    expect(rep.causes.archive_gap).toBe(rep.different);

    // A new archive of the same topic begins past the deleted records: said too.
    const a3 = concord(['archive', '--from-kafka', '--schema', 'clicks', '--dir', join(ws.dir, 'new'), '--group', `${prefix}new`, '--stop-when-idle', '1s'], env);
    expect(a3.code, a3.stderr).toBe(0);
    expect(a3.stderr).toContain(`${topic}:0: records 0..299 (300) were deleted from the topic (retention, DeleteRecords) before this archive got them: this archive begins at offset 300`);
  }, 180_000);
});
