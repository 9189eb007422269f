import { describe, expect, it } from 'vitest';
import { definitionProblems } from '../fixtures/definition-problems.ts';
import { definitionVersion } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { decodeLine } from '../../schemas/decode.ts';
import { pathText, readField, valueAtPath } from '../../schemas/field-paths.ts';
import { memoryBatches } from '../../sources/jsonl-file.ts';
import { NULL_RECORD_KEY, recordKey } from '../../stream/kafka/topics.ts';
import { runStream } from '../../stream/runtime.ts';
import type { DeadLetter, ResultRecord } from '../../schemas/results.ts';

// Producers nest (`{"user": {"id": "u1"}, "page": {"url": "/p1"}}`): a schema's `paths` says where a
// field lives. Before them such an event fed no flat field: `user_id: is required`, a dead letter.
const clicks = (extra: Record<string, unknown> = {}) => ({
  schemas: { clicks: { time: 'ts', id: 'event_id', key: 'user_id', fields: { event_id: 'string', ts: 'timestamp', user_id: 'string', url: 'string', ms: 'int?' }, ...extra } },
  pipelines: { per_url: { input: 'clicks', key: 'url', window: { tumbling: '1m' }, aggregates: { n: 'count', users: ['count_distinct', 'user_id'], ms: ['sum', 'ms'] } } },
});
const nested = { paths: { user_id: 'user.id', url: ['page', 'url'], ms: ['timing', 'load.ms'] } };
const schemaOf = (defs: ReturnType<typeof clicks>) => parseDefinitions(defs, 'd.json').schema('clicks');
const pos = { source: 'file:x.jsonl', offset: 3 };
const TS = '2026-11-23T10:00:05Z';
const MS = Date.parse(TS);
const line = (o: Record<string, unknown>): string => JSON.stringify({ event_id: 'e1', ts: TS, ...o });
const decode = (text: string, defs = clicks(nested)) => decodeLine(schemaOf(defs), text, pos);
const reason = (text: string, defs = clicks(nested)): string | null => {
  const out = decode(text, defs);
  return out.ok ? null : out.deadLetter.reason;
};

describe('the path lookup', () => {
  it('walks own keys of objects; absent or null on the way is absent; anything else on the way throws naming the place', () => {
    const e = { user: { id: 'u1', meta: { 'a.b': 7 } }, n: null, s: 'x', arr: [{ id: 1 }] } as Record<string, unknown>;
    expect(valueAtPath(e, ['user', 'id'], 'f')).toBe('u1');
    expect(valueAtPath(e, ['user', 'meta', 'a.b'], 'f')).toBe(7);
    expect(valueAtPath(e, ['nope', 'id'], 'f')).toBeUndefined();
    expect(valueAtPath(e, ['n', 'id'], 'f')).toBeUndefined();
    expect(valueAtPath(e, ['user', 'constructor'], 'f')).toBeUndefined(); // Object's own, not the event's
    expect(() => valueAtPath(e, ['s', 'id'], 'f')).toThrow('f: expected an object at "s", got string "x"');
    expect(() => valueAtPath(e, ['arr', 'id'], 'f')).toThrow('f: expected an object at "arr", got an array');
    expect(() => valueAtPath(e, ['user', 'id', 'x'], 'f')).toThrow('f: expected an object at "user.id", got string "u1"');
  });

  it('a path is written dotted, or as a list when a key holds a dot', () => {
    expect(pathText(['user', 'id'])).toBe('"user.id"');
    expect(pathText(['timing', 'load.ms'])).toBe('["timing","load.ms"]');
  });

  it('reads the field\'s own name, then its aliases, then its path, while the value is absent or null', () => {
    const places = { aliases: { user_id: ['uid'] }, paths: { user_id: ['user', 'id'] as const } };
    expect(readField(places, { user_id: 'own', uid: 'alias', user: { id: 'path' } }, 'user_id')).toBe('own');
    expect(readField(places, { user_id: null, uid: 'alias', user: { id: 'path' } }, 'user_id')).toBe('alias');
    expect(readField(places, { uid: null, user: { id: 'path' } }, 'user_id')).toBe('path');
    expect(readField(places, { user_id: 'own', user: 'x' }, 'user_id')).toBe('own'); // the path is never walked
    expect(readField(places, { user: {} }, 'user_id')).toBeUndefined();
  });
});

describe('nested events through the schema', () => {
  it('an event with nested fields becomes the flat record the archive stores', () => {
    const out = decode(line({ user: { id: 'u1' }, page: { url: '/p1' }, timing: { 'load.ms': 12 } }));
    expect(out).toEqual({ ok: true, event: { event_id: 'e1', ts: MS, user_id: 'u1', url: '/p1', ms: 12 } });
    // Without `paths` it was a dead letter.
    expect(reason(line({ user: { id: 'u1' }, page: { url: '/p1' } }), clicks())).toBe('user_id: is required');
  });

  it('each way a path does not lead to a value is a dead letter naming the path and what was found', () => {
    expect(reason(line({ user: 'x', page: { url: '/' } }))).toBe('user_id: expected an object at "user", got string "x"');
    expect(reason(line({ user: ['u1'], page: { url: '/' } }))).toBe('user_id: expected an object at "user", got an array');
    expect(reason(line({ user: { id: 'u1' }, page: 5 }))).toBe('url: expected an object at "page", got number 5');
    expect(reason(line({ page: { url: '/' } }))).toBe('user_id: is required (nor at "user.id": no "user" in the event)');
    expect(reason(line({ user: null, page: { url: '/' } }))).toBe('user_id: is required (nor at "user.id": "user" is null)');
    expect(reason(line({ user: {}, page: { url: '/' } }))).toBe('user_id: is required (nor at "user.id": "user" has no "id")');
    expect(reason(line({ user: { id: { v: 1 } }, page: { url: '/' } }))).toBe('user_id: expected a string, got object {"v":1} (at "user.id")');
    expect(reason(line({ user: { id: 'u' }, page: { url: '/' }, timing: { 'load.ms': '12' } }))).toBe('ms: expected an integer, got string "12" (at ["timing","load.ms"])');
    // An optional field: a missing object on the way is the field absent, a scalar on the way is not.
    expect(decode(line({ user: { id: 'u' }, page: { url: '/' } }))).toMatchObject({ ok: true, event: { user_id: 'u', url: '/' } });
    expect(reason(line({ user: { id: 'u' }, page: { url: '/' }, timing: 3 }))).toBe('ms: expected an object at "timing", got number 3');
  });

  it('a flat line whose path starts at a scalar is read by the fast reader and refused alike', () => {
    // No object in the line: the flat reader takes it, and must hand the path's first key on (an
    // optional field read as absent would have let the event through).
    expect(reason('{"event_id":"e1","ts":1795428005000,"user_id":"u","url":"/","timing":3}')).toBe('ms: expected an object at "timing", got number 3');
    expect(reason('{"event_id":"e1","ts":1795428005000,"user":"x","page":"y"}')).toBe('user_id: expected an object at "user", got string "x"');
  });

  it('a flat field wins over its path; aliases combine', () => {
    const d = clicks({ ...nested, aliases: { user_id: ['uid'] } });
    expect(decode(line({ user_id: 'flat', uid: 'a', user: { id: 'n' }, url: '/' }), d)).toMatchObject({ ok: true, event: { user_id: 'flat' } });
    expect(decode(line({ uid: 'a', user: { id: 'n' }, url: '/' }), d)).toMatchObject({ ok: true, event: { user_id: 'a' } });
    expect(reason(line({ url: '/' }), d)).toBe('user_id: is required (nor as "uid", nor at "user.id": no "user" in the event)');
  });

  it('a path from the field\'s own name takes a value that became an object, and the flat value still', () => {
    // The producer sent `"url": {"path": "/p1"}` where `"url": "/p1"` was: a dead letter before.
    const d = clicks({ paths: { url: 'url.path' } });
    expect(reason(line({ user_id: 'u', url: { path: '/p1' } }), clicks())).toBe('url: expected a string, got object {"path":"/p1"}');
    expect(decode(line({ user_id: 'u', url: { path: '/p1' } }), d)).toMatchObject({ ok: true, event: { url: '/p1' } });
    expect(decode(line({ user_id: 'u', url: '/p0' }), d)).toMatchObject({ ok: true, event: { url: '/p0' } });
    expect(reason(line({ user_id: 'u', url: { other: 1 } }), d)).toBe('url: is required (nor at "url.path": "url" has no "path")');
    expect(readField(schemaOf(d), { url: { path: '/p1' } }, 'url')).toBe('/p1');
  });

  it('a nested time field dates the dead letter', () => {
    const d = clicks({ paths: { ts: 'meta.at', user_id: 'user.id' } });
    const out = decode(JSON.stringify({ event_id: 'e1', meta: { at: TS }, user: 5, url: '/' }), d);
    expect(out.ok === false && out.deadLetter.eventTime).toBe(MS);
  });

  it('the stream counts every refused nested event and keeps going', async () => {
    const registry = parseDefinitions(clicks(nested), 'd.json');
    const good = (id: string, user: string) => line({ event_id: id, user: { id: user }, page: { url: '/p1' } });
    const lines = [good('a', 'u1'), line({ event_id: 'b', user: 'x', page: { url: '/p1' } }), line({ event_id: 'c', user: [1], page: {} }), good('d', 'u2')];
    const dead: DeadLetter[] = [], rows: ResultRecord[] = [];
    await runStream({ pipelines: registry.pipelines, source: memoryBatches('file:n.jsonl', lines, 10), onResult: (r) => rows.push(r), onLate: () => {}, onDeadLetter: (d) => dead.push(d) });
    expect(dead.map((d) => [d.offset, d.reason])).toEqual([[1, 'user_id: expected an object at "user", got string "x"'], [2, 'user_id: expected an object at "user", got an array']]);
    expect(rows.map((r) => r.kind === 'window' && [r.key, r.values])).toEqual([[{ url: '/p1' }, { n: 2, users: 2, ms: null }]]);
  });
});

describe('produce keys by a nested key field as the workers read it', () => {
  it('the value at the path, the flat name first; a path that leads nowhere is the null key; a scalar on the way no key', () => {
    const s = schemaOf(clicks(nested));
    expect(recordKey(s, { user: { id: 'u1' } })).toBe('u1');
    expect(recordKey(s, { user_id: 'u0', user: { id: 'u1' } })).toBe('u0');
    expect(recordKey(s, { user: {} })).toBe(NULL_RECORD_KEY);
    expect(recordKey(s, { user: 'x' })).toBeNull();
  });
});

describe('concord validate checks paths, each problem at its place', () => {
  const problems = (paths: unknown, extra: Record<string, unknown> = {}): readonly string[] => definitionProblems(clicks({ paths, ...extra }), 'd.json');
  it('names each mistake', () => {
    expect(problems({ user_id: 'user..id' })).toEqual(['schemas.clicks.paths.user_id: "user..id" has an empty key (the 2nd); write the keys from the event\'s top level inward, e.g. "user.id"']);
    expect(problems({ user_id: ['user', ''] })).toEqual(['schemas.clicks.paths.user_id: ["user",""] has an empty key (the 2nd); write the keys from the event\'s top level inward, e.g. "user.id"']);
    expect(problems({ usr_id: 'user.id' })).toEqual(['schemas.clicks.paths.usr_id: "usr_id" is not a field of the schema (did you mean "user_id"?)']);
    expect(problems({ user_id: 'user' })).toEqual(['schemas.clicks.paths.user_id: "user" is one key at the event\'s top level, no path: write it in "aliases": {"user_id": ["user"]}']);
    expect(problems({ user_id: 7 })).toEqual(['schemas.clicks.paths.user_id: expected a path like "user.id" or "items[0].sku", or a list of steps like ["meta", "a.b"] (when a key holds a dot) or ["items", 0, "sku"], got 7']);
    expect(problems('user.id')).toEqual(['schemas.clicks.paths: expected an object of field name -> path, e.g. {"user_id": "user.id"}, got "user.id"']);
    expect(problems({ user_id: 'url.id' })).toEqual(['schemas.clicks.paths.user_id: "url.id" starts at "url", a field of the schema: events cannot hold an object there and a value of "url"']);
    expect(problems({ user_id: 'u.id' }, { aliases: { url: 'u' } })).toEqual(['schemas.clicks.paths.user_id: "u.id" starts at "u", an alias of "url": events cannot hold an object there and a value of it']);
    expect(problems({ user_id: 'a.b', url: ['a', 'b'] })).toEqual(['schemas.clicks.paths.url: "a.b" is already the path of "user_id"; one value cannot fill two fields']);
    expect(problems({ user_id: 'a.b', url: 'a.b.c' })).toEqual(['schemas.clicks.paths.url: "a.b.c" and the path of "user_id", "a.b", need a value and an object at the same place']);
    expect(problems({ user_id: 'user.id', url: ['page', 'url.full'] })).toEqual([]);
    expect(problems({ url: 'url.path' })).toEqual([]); // from the field's own name
  });
});

describe('a pipeline names fields, never where events carry them', () => {
  it('a path or an alias where a field belongs names the field to write; a slip names the likely field', () => {
    const file = (pipeline: Record<string, unknown>) => ({ ...clicks({ ...nested, aliases: { url: 'page_url' } }), pipelines: { p: { input: 'clicks', ...pipeline } } });
    const windowed = (o: Record<string, unknown>) => file({ window: { tumbling: '1m' }, aggregates: { n: 'count' }, ...o });
    expect(definitionProblems(windowed({ key: 'user.id' }))).toEqual(['pipelines.p.key: "user.id" is not a field of schema "clicks" (it is where events carry field "user_id", by the schema\'s "paths": name the field, "user_id")']);
    expect(definitionProblems(windowed({ where: [['timing.load.ms', '>', 3]] }))).toEqual(['pipelines.p.where[0]: "timing.load.ms" is not a field of schema "clicks" (it is where events carry field "ms", by the schema\'s "paths": name the field, "ms")']);
    expect(definitionProblems(windowed({ where: [['page.url', '=', '/a']] }))).toEqual(['pipelines.p.where[0]: "page.url" is not a field of schema "clicks" (it is where events carry field "url", by the schema\'s "paths": name the field, "url")']);
    expect(definitionProblems(windowed({ aggregates: { n: ['count', { where: [['page_url', '=', '/a']] }] } }))).toEqual(['pipelines.p.aggregates.n.where[0]: "page_url" is not a field of schema "clicks" (it is an alias of field "url": name the field, "url")']);
    expect(definitionProblems(windowed({ aggregates: { users: ['count_distinct', 'usr_id'] } }))).toEqual(['pipelines.p.aggregates.users: count_distinct needs a field of schema "clicks"; "usr_id" is not one (did you mean "user_id"?)']);
    expect(definitionProblems(file({ key: 'user_id', rule: { within: '5m', distinct: 'page.url', more_than: 3, output: 'n' } }))).toEqual(['pipelines.p.rule.distinct: "page.url" is not a field of schema "clicks" (it is where events carry field "url", by the schema\'s "paths": name the field, "url")']);
  });
});

describe('the definition version', () => {
  it('paths, like aliases, make no other version; a file without them parses as before (no `paths` key)', () => {
    const version = (extra: Record<string, unknown>) => definitionVersion(parseDefinitions(clicks(extra), 'd.json').pipeline('per_url'));
    expect(version(nested)).toBe(version({}));
    expect(version({ paths: { user_id: 'account.user.id' } })).toBe(version({}));
    expect(Object.hasOwn(schemaOf(clicks()), 'paths')).toBe(false);
  });
});
