import { describe, expect, it } from 'vitest';
import { definitionProblems } from '../fixtures/definition-problems.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { decodeLine } from '../../schemas/decode.ts';

// Events are plain objects, and every object answers for `constructor`, `toString`, ...: an event
// without an optional field of such a name still seemed to hold Object's function, so it was a dead
// letter ("expected a string, got function undefined"); a schema's `key` naming one it did not declare
// was accepted.
const problems = (content: unknown): readonly string[] => definitionProblems(content, 'proto.json');

const pipelines = { p: { input: 's', key: ['k'], window: { tumbling: '1m' }, aggregates: { n: 'count' } } };

describe('field names every JavaScript object answers to', () => {
  it('refuses an optional field so named, naming it', () => {
    const found = problems({ schemas: { s: { time: 'ts', id: 'id', key: 'k', fields: { id: 'string', ts: 'timestamp', k: 'string', constructor: 'string?', toString: 'int?' } } }, pipelines });
    expect(found).toEqual([
      expect.stringMatching(/^schemas\.s\.fields\.constructor: "constructor" is a name every JavaScript object answers to/),
      expect.stringMatching(/^schemas\.s\.fields\.toString: "toString" is a name every JavaScript object answers to/),
    ]);
  });

  it('refuses a time, id or key naming one the schema does not declare', () => {
    const found = problems({ schemas: { s: { time: 'valueOf', id: 'toString', key: 'hasOwnProperty', fields: { ts: 'timestamp', k: 'string' } } }, pipelines });
    expect(found).toEqual(expect.arrayContaining([
      'schemas.s.time: "valueOf" is not a field of the schema',
      'schemas.s.id: "toString" is not a field of the schema',
      'schemas.s.key: "hasOwnProperty" is not a field of the schema',
    ]));
  });

  it('a required field so named is read as the event\'s own: absent, it is missing', () => {
    const schema = parseDefinitions({ schemas: { s: { time: 'ts', id: 'id', key: 'k', fields: { id: 'string', ts: 'timestamp', k: 'string', constructor: 'string' } } }, pipelines }, 'x').schema('s');
    const position = { source: 'file:x.jsonl', offset: 0 };
    expect(decodeLine(schema, '{"id":"a","ts":1000,"k":"x","constructor":"c"}', position)).toEqual({ ok: true, event: { id: 'a', ts: 1000, k: 'x', constructor: 'c' } });
    const absent = decodeLine(schema, '{"id":"a","ts":1000,"k":"x"}', position);
    expect(absent.ok ? null : absent.deadLetter).toMatchObject({ field: 'constructor', reason: 'constructor: is required' });
  });
});
