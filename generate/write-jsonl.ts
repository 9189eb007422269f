import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Writing generated lines to disk as a JSONL file. */

/** Writes lines as JSONL ('\n' after each line), in chunks of about 4 MB; creates the directory. */
export async function writeJsonl(path: string, lines: readonly string[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const file = await open(path, 'w');
  try {
    let chunk: string[] = [];
    let size = 0;
    for (const line of lines) {
      chunk.push(line);
      size += line.length + 1;
      if (size >= 4_000_000) {
        await file.write(chunk.join('\n') + '\n');
        chunk = [];
        size = 0;
      }
    }
    if (chunk.length > 0) await file.write(chunk.join('\n') + '\n');
  } finally {
    await file.close();
  }
}
