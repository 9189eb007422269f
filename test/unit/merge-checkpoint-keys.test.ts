import { describe, expect, it } from 'vitest';
import { MAX_KEY_CHARS } from '../../stream/kafka/client.ts';
import { partKey, partsFit, storedParts } from '../../stream/merge-checkpoint-keys.ts';

describe('merge checkpoint keys', () => {
  const head = 'g.merge|concord.partials.clicks|1';

  it('a part key is the head, the pipeline and a fixed-length hash of the id, whatever the id\'s length', () => {
    const short = partKey(head, 'uv', '1795392000000\u0000{}');
    const long = partKey(head, 'uv', `1795392000000\u0000${'x'.repeat(400_000)}`);
    expect(short.startsWith(`${head}|uv|`)).toBe(true);
    expect(long.length).toBe(short.length);
    expect(long.length).toBeLessThanOrEqual(MAX_KEY_CHARS);
    expect(partKey(head, 'uv', 'a')).not.toBe(partKey(head, 'uv', 'b'));
  });

  it('a prefix too long for the client to send as is falls back to whole checkpoints', () => {
    expect(partsFit(head, 'uv')).toBe(true);
    expect(partsFit(head, 'p'.repeat(MAX_KEY_CHARS))).toBe(false);
  });

  it('the parts of a pipeline are found by prefix, never those of another head or of a pipeline whose name extends it', () => {
    const stored = new Map<string, string>([
      [head, '{"head":true}'],
      [partKey(head, 'a', 'w1'), 'a1'],
      [partKey(head, 'a', 'w2'), 'a2'],
      [partKey(head, 'a|b', 'w1'), 'ab1'],
      [partKey(`${head}0`, 'a', 'w1'), 'other partition'],
      [partKey('g.merge|concord.partials.clicks|10', 'a', 'w1'), 'partition 10'],
    ]);
    expect(storedParts(stored, head, 'a').sort()).toEqual(['a1', 'a2']);
    expect(storedParts(stored, head, 'a|b')).toEqual(['ab1']);
  });
});
