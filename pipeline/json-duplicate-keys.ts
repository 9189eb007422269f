/**
 * Keys written twice in one JSON object. `JSON.parse` keeps the last and drops the others without a
 * word: a pipeline block copied and not renamed replaced the one before it, and `validate` said OK.
 */

export interface DuplicateKey {
  /** Where the object is, as the definitions' problems name places (`pipelines`, `schemas.rides.fields`). */
  readonly path: string;
  readonly key: string;
  /** Every occurrence as `line:column` (1-based), in file order (the last one is the value JSON.parse keeps). */
  readonly at: readonly string[];
}

interface Frame {
  readonly path: string;
  readonly object: boolean;
  /** Key -> where it was written (objects). */
  readonly seen: Map<string, { line: number; column: number }[]>;
  expectingKey: boolean;
  lastKey: string;
  index: number;
}

const child = (parent: Frame | undefined, root: string): string => {
  if (!parent) return root;
  if (!parent.object) return `${parent.path}[${parent.index}]`;
  return parent.path === '' ? parent.lastKey : `${parent.path}.${parent.lastKey}`;
};

/** Every key repeated in an object of `text`, which must be valid JSON (call it after `JSON.parse`). */
export function duplicateKeys(text: string): DuplicateKey[] {
  const found: { path: string; key: string; places: { line: number; column: number }[] }[] = [];
  const stack: Frame[] = [];
  let line = 1;
  let lineStart = 0;
  const open = (object: boolean) => {
    stack.push({ path: child(stack.at(-1), ''), object, seen: new Map(), expectingKey: object, lastKey: '', index: 0 });
  };
  const close = () => {
    const frame = stack.pop()!;
    for (const [key, places] of frame.seen) if (places.length > 1) found.push({ path: frame.path === '' ? '(file)' : frame.path, key, places });
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') {
      line++;
      lineStart = i + 1;
    }
    else if (c === '{') open(true);
    else if (c === '[') open(false);
    else if (c === '}' || c === ']') close();
    else if (c === ',') {
      const top = stack.at(-1)!;
      if (top.object) top.expectingKey = true;
      else top.index++;
    } else if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const top = stack.at(-1);
      if (top?.object && top.expectingKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        const place = { line, column: i - lineStart + 1 };
        const places = top.seen.get(key);
        if (places) places.push(place);
        else top.seen.set(key, [place]);
        top.lastKey = key;
        top.expectingKey = false;
      }
      i = end; // a JSON string holds no raw line break
    }
  }
  const first = (d: typeof found[number]) => d.places[0]!;
  return found
    .sort((a, b) => first(a).line - first(b).line || first(a).column - first(b).column)
    .map(({ path, key, places }) => ({ path, key, at: places.map((p) => `${p.line}:${p.column}`) }));
}
