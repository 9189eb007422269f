import { describe, expect, it } from 'vitest';
import { DefinitionsFileError, parseDefinitions } from '../../pipeline/definitions-file.ts';

// An aggregate (or a rule's output) named `__proto__` was accepted, and its value vanished from every
// result: output rows are JavaScript objects, where setting `__proto__` sets the prototype instead.
describe('output names', () => {
  const schemas = { s: { time: 'ts', id: 'id', key: 'k', fields: { id: 'string', ts: 'timestamp', k: 'string', v: 'string' } } };

  it('refuses __proto__ as an aggregate or a rule output, naming its place', () => {
    let thrown: unknown;
    try {
      parseDefinitions(JSON.parse(JSON.stringify({
        schemas,
        pipelines: {
          a: { input: 's', key: ['k'], window: { tumbling: '1m' }, aggregates: JSON.parse('{"n": "count", "__proto__": ["count_distinct", "v"]}') },
          r: { input: 's', key: 'k', rule: { within: '5m', distinct: 'v', more_than: 1, output: '__proto__' } },
        },
      })), 'proto.json');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DefinitionsFileError);
    const problems = (thrown as DefinitionsFileError).problems;
    expect(problems.some((x) => x.startsWith('pipelines.a.aggregates.__proto__:') && x.includes('cannot name an output field'))).toBe(true);
    expect(problems.some((x) => x.startsWith('pipelines.r.rule.output:') && x.includes('cannot name an output field'))).toBe(true);
  });

  it('constructor and other names of Object.prototype are ordinary names', () => {
    expect(() => parseDefinitions({ schemas, pipelines: { a: { input: 's', key: ['k'], window: { tumbling: '1m' }, aggregates: { constructor: 'count', toString: ['count_distinct', 'v'] } } } }, 'x.json')).not.toThrow();
  });
});
