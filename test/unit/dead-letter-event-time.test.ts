import { describe, expect, it } from 'vitest';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { TimeGuard } from '../../pipeline/time-guard.ts';
import { deadLetterToJson, decodeLine, quarantine } from '../../schemas/decode.ts';
import { quarantineRecord, quarantineRecordOfJson } from '../../store/quarantine-records.ts';
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

// The time quarantine's dead letters, both reasons, kept in quarantined_events alike: by the stream in
// process (quarantineRecord) and by `concord sink` from concord.dlq (quarantineRecordOfJson). Before
// 2026-12-07 a past_horizon verdict was kept by neither (nor as a refusal: it carries a reference).
describe('the time quarantine\'s dead letters in the store', () => {
  it('future_timestamp and past_horizon give the same record from the dead letter and from its JSON; the reason is the sign of event time - reference', () => {
    const guard = new TimeGuard({ maxFutureSkewMs: 3_600_000, pastHorizonMs: 86_400_000 }, () => T);
    const held = (ts: number) => {
      const s = schema();
      const line = JSON.stringify({ event_id: 'e1', ts, userId: 'u1', url: '/' });
      const d = decodeLine(s, line, position);
      if (!d.ok) throw new Error(d.deadLetter.reason);
      return quarantine(guard, s, d.event, line, position);
    };
    for (const [ts, reason] of [[T + 2 * 3_600_000, 'future_timestamp'], [T - 2 * 86_400_000, 'past_horizon']] as const) {
      const d = held(ts)!;
      expect(d.reason).toBe(reason);
      const record = quarantineRecord(d, 'clicks');
      expect(record).toEqual({ schema: 'clicks', source: 'file:day.jsonl', offset: 7, eventTime: ts, reference: T });
      expect(quarantineRecordOfJson(deadLetterToJson(d, 'clicks'))).toEqual(record);
      expect(rejectionRecordOfJson(deadLetterToJson(d, 'clicks'))).toBeNull();
      expect(record!.eventTime < record!.reference ? 'past_horizon' : 'future_timestamp').toBe(reason);
    }
    expect(held(T - 3_600_000)).toBeNull();
  });
});
