/** "1 event", "2 events": a count with its noun in the number it takes (a summary said "1 blank lines skipped"). */
export function counted(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}
