import { describe, expect, it } from 'vitest';
import { MemberLoop } from '../../stream/member-loop.ts';

// A refusal raised while an assignment is restored (a checkpoint of another definition version) must end
// the member's run by itself: a group read to its end fetches no batch that would carry the failure, and
// `concord run` sat silent until stopped (test/e2e/kafka-definitions-changed.test.ts over a real broker).
describe('MemberLoop: a failed assignment', () => {
  it('fails the run without waiting for a batch', async () => {
    const loop = new MemberLoop();
    const refused = new Error('the checkpoint is from another definition version');
    loop.assigned(() => Promise.reject(refused));
    await expect(loop.wait()).rejects.toBe(refused);
    expect(loop.stopping).toBe(true);
  }, 5_000);

  it('a batch after it is not processed', async () => {
    const loop = new MemberLoop();
    loop.assigned(() => Promise.reject(new Error('refused')));
    let ran = false;
    expect(await loop.batch(async () => { ran = true; return true; })).toBe(false);
    expect(ran).toBe(false);
    await expect(loop.wait()).rejects.toThrow('refused');
  });
});
