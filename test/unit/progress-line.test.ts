import { describe, expect, it } from 'vitest';
import { ProgressLine } from '../../pipeline/progress-line.ts';

describe('ProgressLine: a progress line said only when it changed', () => {
  const collect = () => {
    const said: [string, Record<string, unknown> | undefined][] = [];
    return { said, progress: new ProgressLine((line, fields) => said.push([line, fields])) };
  };

  it('says a line once while it stays the same, again when it changes, even back to an earlier one', () => {
    const { said, progress } = collect();
    const results = ['3 results', '3 results', '3 results', '5 results', '5 results', '3 results'].map((l) => progress.update(l));
    expect(results).toEqual([true, false, false, true, false, true]);
    expect(said.map(([l]) => l)).toEqual(['3 results', '5 results', '3 results']);
  });

  it('keeps a last line per key: one worker\'s line does not make another\'s said again', () => {
    const { said, progress } = collect();
    for (let round = 0; round < 3; round++) {
      progress.update('run clicks: 10 events', { key: 'run 0', fields: { events: 10 } });
      progress.update('run clicks: 10 events', { key: 'run 1', fields: { events: 10 } });
      progress.update(`merge: ${round < 2 ? 1 : 2} partials`, { key: 'merge 0' });
    }
    expect(said).toEqual([
      ['run clicks: 10 events', { events: 10 }],
      ['run clicks: 10 events', { events: 10 }],
      ['merge: 1 partials', undefined],
      ['merge: 2 partials', undefined],
    ]);
  });
});
