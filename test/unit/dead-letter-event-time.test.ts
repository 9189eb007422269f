import { describe, expect, it } from 'vitest';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { deadLetterToJson, decodeLine } from '../../schemas/decode.ts';
import { rejectionRecord, rejectionRecordOfJson } from '../../store/rejection-records.ts';

// A dead letter for a field carries the event's time when the refused object's time field reads: the store
// files the refusal by it (store/rejection-records.ts), for reconcile of the day once an alias takes the
// event. A refusal of the time itself, or of a line that is no object, has none: no day to file it under.
const schema = (epochUnit?: string) => parseDefinitions({
  schemas: { clicks: { time: 'ts', id: 'event_id', key: 'userId', ...(epochUnit ? { epoch_unit: epochUnit } : {}), aliases: { ts: ['time'] },
    fields: { event_id: 'string', ts: 'timestamp', userId: 'string', url: 'string' } } },
  pipelines: { per_url: { input: 'clicks', key: 'url', window: { tumbling: '1m' }, aggregates: { n: 'count' } } },
}, 'drift.json').pipeline('per_url').schema;
const position = { source: 'file:day.jsonl', offset: 7 };
const T = Date.UTC(2026, 11, 1, 8);
const refused = (line: unknown, unit?: string) => {
  const d = decodeLine(schema(unit), typeof line === 'string' ? line : JSON.stringify(line), position);
  if (d.ok) throw new Error('taken');
  return d.deadLetter;
};

describe('the event time of a dead letter refused for a field', () => {
  it('is read as the schema reads it: its own name or an alias, ISO or in the epoch unit', () => {
    expect(refused({ event_id: 'e1', ts: new Date(T).toISOString(), user_id: 'u1', url: '/' }).eventTime).toBe(T);
    expect(refused({ event_id: 'e1', time: T, user_id: 'u1', url: '/' }).eventTime).toBe(T);
    expect(refused({ event_id: 'e1', ts: T / 1000, url: 7 }, 's').eventTime).toBe(T);
    const d = refused({ event_id: 'e1', ts: T, user_id: 'u1', url: '/' });
    const json = deadLetterToJson(d, 'clicks');
    expect(json).toMatchObject({ field: 'userId', event_time: '2026-12-01T08:00:00.000Z' });
    expect(rejectionRecordOfJson(json)).toEqual(rejectionRecord(d, 'clicks'));
    expect(rejectionRecord(d, 'clicks')).toMatchObject({ schema: 'clicks', source: 'file:day.jsonl', offset: 7, eventTime: T });
  });

  it('is absent when the time itself is refused or missing, or the line is no object: nothing is kept in the store', () => {
    for (const line of [{ event_id: 'e1', ts: 'soon', userId: 'u1', url: '/' }, { event_id: 'e1', userId: 'u1', url: '/' }, { event_id: 'e1', ts: 1796112040, url: '/' }, '[1]', '{"event_id":']) {
      const d = refused(line);
      expect(d.eventTime).toBeUndefined();
      expect(deadLetterToJson(d, 'clicks').event_time).toBeUndefined();
      expect(rejectionRecord(d, 'clicks')).toBeNull();
    }
  });
});
