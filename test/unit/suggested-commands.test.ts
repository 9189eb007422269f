import { describe, expect, it } from 'vitest';
import type { DayReport } from '../../cli/commands/report.ts';
import { toMarkdown } from '../../cli/commands/report-markdown.ts';
import { mdCode } from '../../reconcile/markdown.ts';
import { mixedDaysMessage } from '../../store/mixed-days.ts';

// Commands Concord suggests name the user's pipeline: `concord report` (Markdown) and the stream's
// mixed-definitions warning wrote the name bare. A pipeline named `` a`<img src=x onerror=alert(1)>`; rm -rf ~ ``
// closed the report's code span (the rest rendered as HTML), and the command, copied into a shell, ran
// a command substitution and `rm -rf ~`.
const name = 'daily `<img src=x onerror=alert(1)>`; rm -rf ~ $(id) "q" \'s\'';

/** POSIX shell words of a command line that holds only bare words and single-quoted parts; anything a shell would act on is an error. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === ' ') { i++; continue; }
    let word = '';
    while (i < line.length && line[i] !== ' ') {
      if (line[i] === "'") {
        const end = line.indexOf("'", i + 1);
        if (end < 0) throw new Error(`unterminated quote at ${i}`);
        word += line.slice(i + 1, end);
        i = end + 1;
      } else if (line[i] === '\\' && line[i + 1] === "'") {
        word += "'";
        i += 2;
      } else if (/[A-Za-z0-9._/:=@%+,-]/.test(line[i]!)) {
        word += line[i++];
      } else {
        throw new Error(`unquoted shell character ${JSON.stringify(line[i])} at ${i} of ${line}`);
      }
    }
    words.push(word);
  }
  return words;
}

/** The content of the first CommonMark code span in `text`. */
function codeSpan(text: string): string {
  const open = /`+/.exec(text);
  if (!open) throw new Error('no code span');
  const fence = open[0];
  let at = open.index + fence.length;
  for (;;) {
    const run = /`+/g;
    run.lastIndex = at;
    const m = run.exec(text);
    if (!m) throw new Error('unclosed code span');
    if (m[0] === fence) {
      const inner = text.slice(open.index + fence.length, m.index);
      return /^ .* $/s.test(inner) && inner.trim() !== '' ? inner.slice(1, -1) : inner;
    }
    at = m.index + m[0].length;
  }
}

describe('suggested commands name a pipeline as one shell word', () => {
  it('mdCode: a code span whatever backticks the text holds', () => {
    for (const t of ['plain', 'a`b', '``x``', '`lead', 'trail`', 'a ``` b']) expect(codeSpan(`see ${mdCode(t)} here`)).toBe(t);
  });

  it('concord report (Markdown): the backfill command of a day computed by another definition', async () => {
    const report: DayReport = {
      date: '2026-11-23',
      pipelines: [{
        pipeline: name, empty: false, reconciliation: null, definition_versions: { old0000000a: 3 }, definition_version: 'new0000000b', rows: [],
        status: { status: 'provisional', watermark: null, liveGeneration: 0, generations: [], dirty: 0, lateDelta: 0 } as unknown as DayReport['pipelines'][number]['status'],
      }],
    };
    const line = (await toMarkdown(report, false)).split('\n').find((l) => l.includes('concord backfill'))!;
    const command = codeSpan(line);
    expect(shellWords(command)).toEqual(['concord', 'backfill', '--from', '2026-11-23', '--to', '2026-11-23', '--pipeline', name, '--archive', 'DIR']);
  });

  it('the stream\'s warning about days mixing definitions', () => {
    const line = mixedDaysMessage(name, 'new0000000b', new Map([['2026-11-23', new Map([['old0000000a', 2], ['new0000000b', 1]])]]), 'this run', 'or stream into a fresh store');
    const command = /`(concord backfill .*--archive DIR)`, or stream/.exec(line)?.[1];
    expect(command).toBeDefined();
    expect(shellWords(command!)).toEqual(['concord', 'backfill', '--from', '2026-11-23', '--to', '2026-11-23', '--pipeline', name, '--archive', 'DIR']);
  });
});
