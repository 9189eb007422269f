import { describe, expect, it } from 'vitest';
// @ts-expect-error the dashboard's modules are plain browser JavaScript (serve/dashboard/), without types
import { definitionsNote } from '../../serve/dashboard/charts.js';

// The live view drew a range whose windows two definitions computed (1-minute windows, then 5-minute ones
// after the change) as one series with one total, without a word: the card now says so.
const rows = (version: string, n: number) => Array.from({ length: n }, () => ({ definition_version: version }));

describe('the live view card of a range that mixes definition versions', () => {
  it('says how many windows another definition version computed, and that they are not comparable', () => {
    expect(definitionsNote([...rows('a7aa1481bb12', 10), ...rows('a64d3020ef8d', 2)], 'a64d3020ef8d')).toBe(
      '10 of 12 windows here were computed by another definition version (a7aa1481bb12; the loaded definitions give a64d3020ef8d): ' +
      'the definition changed within the range, so values before and after it are not comparable');
  });

  it('a range only another definition computed: the definition changed since', () => {
    expect(definitionsNote(rows('a7aa1481bb12', 3), 'a64d3020ef8d')).toBe(
      'All 3 windows here were computed by another definition version (a7aa1481bb12; the loaded definitions give a64d3020ef8d): the definition changed since');
  });

  it('says nothing when the loaded definition computed them all', () => {
    expect(definitionsNote(rows('a64d3020ef8d', 12), 'a64d3020ef8d')).toBeNull();
    expect(definitionsNote([], 'a64d3020ef8d')).toBeNull();
  });
});
