import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { StoreError, type SqlValue, type StageColumn } from './sql-driver.ts';

/** Rows per packed chunk: the appender's cost is per value, DuckDB splits the rest. */
const CHUNK_ROWS = 4_096;
/** Between a column's values in a chunk (ASCII record separator): JSON text escapes it, numbers never hold it. */
const VALUE_SEP = '\u001e';
/** A null in a chunk (ASCII unit separator alone). */
const NULL_TEXT = '\u001f';

/**
 * DuckDB's bulk path: temporary tables of the writer's connection. A table is created on first use and
 * emptied by the transaction that used it, before its COMMIT (DuckDbDriver.transaction), so the next use
 * finds it empty and appends at once.
 *
 * Rows are packed by column: per chunk of CHUNK_ROWS rows, each column's values joined into one text,
 * appended as one row of a chunk table, then split back by DuckDB, into the typed staging table
 * (`stageRows`) or where a statement reads them (`stageRelation`). The appender costs ~1-1.5 µs a value
 * whatever its length: the demo's 10,000 late events (10 columns) took ~200 ms of the stream's thread
 * value by value, 24-27 ms packed. A chunk holding a text DuckDB could not split back (one containing
 * VALUE_SEP, or equal to NULL_TEXT) or a number that is no integer of its column's type is appended value
 * by value instead.
 */
export class DuckDbStages {
  /** Staging tables created on this connection, and those holding rows of an earlier use. */
  private readonly stageTables = new Set<string>();
  private readonly usedStages = new Set<string>();

  constructor(private readonly connection: DuckDBConnection) {}

  /** Whether a staging table may hold rows (emptyStages has statements to run). */
  get anyUsed(): boolean {
    return this.usedStages.size > 0;
  }

  /**
   * Fills the staging table with `rows`; `run` sends its CREATE or DELETE (in the caller's transaction),
   * `before` the statement that splits the packed chunks (run before whatever reads the stage next).
   */
  async stageRows(
    schema: string, table: string, columns: readonly StageColumn[], rows: Iterable<readonly SqlValue[]>,
    run: (sql: string) => Promise<unknown>, before: (sql: string) => Promise<unknown> | void = run,
  ): Promise<string> {
    const { name, chunks } = await this.pack(schema, table, columns, rows, run);
    if (chunks !== undefined) await before(`INSERT INTO ${name} SELECT ${typedColumns(columns, false)} FROM (${splitChunks(columns, chunks)})`);
    return name;
  }

  /**
   * `rows` as a relation that splits their packed chunks where it is read, with no staging table filled
   * (for rows read by a statement or two: a live write of 5,400 rows took 4-5 ms more with the rows
   * first split into the table).
   */
  async stageRelation(schema: string, table: string, columns: readonly StageColumn[], rows: Iterable<readonly SqlValue[]>, run: (sql: string) => Promise<unknown>): Promise<string> {
    const { name, chunks, valueByValue } = await this.pack(schema, table, columns, rows, run);
    if (chunks === undefined) return name;
    const split = `SELECT ${typedColumns(columns, true)} FROM (${splitChunks(columns, chunks)})`;
    return valueByValue ? `(${split} UNION ALL SELECT ${columns.map((c) => c.name).join(', ')} FROM ${name})` : `(${split})`;
  }

  /**
   * Appends `rows` packed into the chunk table (`chunks`, undefined when none was packed); the rows of a
   * chunk that would not split back go value by value into the staging table (`name`; `valueByValue`
   * says whether any did).
   */
  private async pack(
    schema: string, table: string, columns: readonly StageColumn[], rows: Iterable<readonly SqlValue[]>, run: (sql: string) => Promise<unknown>,
  ): Promise<{ name: string; chunks: string | undefined; valueByValue: boolean }> {
    // Temporary tables: in memory, outside the database file and its write-ahead log.
    const local = `${schema}_${table}`;
    const chunks = `temp.main.${local}_chunks`;
    const name = `temp.main.${local}`;
    if (!this.stageTables.has(local)) {
      await run([
        `CREATE OR REPLACE TEMP TABLE ${local} (${columns.map((c) => `${c.name} ${c.type}`).join(', ')})`,
        `CREATE OR REPLACE TEMP TABLE ${local}_chunks (${columns.map((_, i) => `c${i} TEXT`).join(', ')})`,
      ].join(';\n'));
      this.stageTables.add(local);
    } else if (this.usedStages.has(local)) {
      await run(`DELETE FROM ${name};\nDELETE FROM ${chunks}`);
    }
    this.usedStages.add(local);
    const unpackable: (readonly SqlValue[])[] = [];
    let packed = 0;
    await this.append(`${local}_chunks`, name, (appender) => {
      for (const chunk of packedChunks(columns, rows, unpackable)) {
        for (const text of chunk) appender.appendVarchar(text);
        appender.endRow();
        packed++;
      }
    });
    if (unpackable.length > 0) {
      await this.append(local, name, (appender) => {
        for (const row of unpackable) appendRow(appender, columns, row);
      });
    }
    return { name, chunks: packed > 0 ? chunks : undefined, valueByValue: unpackable.length > 0 };
  }

  /** Opens an appender on a staging table, lets `fill` append, and flushes it (or drops what it appended). */
  private async append(local: string, name: string, fill: (appender: DuckDBAppender) => void): Promise<void> {
    let appender: DuckDBAppender | undefined;
    try {
      appender = await this.connection.createAppender(local, 'main', 'temp');
      fill(appender);
      appender.closeSync();
    } catch (error) {
      // What was appended and not flushed is dropped, never flushed later by the appender's release.
      try { appender?.clear(); appender?.closeSync(); } catch { /* the statement failed already */ }
      if (error instanceof StoreError) throw error; // the rows' own (a lazily produced row refused)
      throw new StoreError(`staging rows into ${name} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  /** DELETEs for the staging tables that may hold rows (they hold none once those run). */
  emptyStages(): string[] {
    const out = [...this.usedStages].flatMap((local) => [`DELETE FROM temp.main.${local}`, `DELETE FROM temp.main.${local}_chunks`]);
    this.usedStages.clear();
    return out;
  }

  /** After a rollback: a staging table created in the rolled-back transaction is gone; one emptied there is full again. */
  forget(): void {
    this.stageTables.clear();
    this.usedStages.clear();
  }
}

/** The chunk table's columns split back, in lockstep: one row per packed row, every value as text. */
function splitChunks(columns: readonly StageColumn[], chunks: string): string {
  return `SELECT ${columns.map((_, i) => `unnest(string_split(c${i}, chr(30))) AS c${i}`).join(', ')} FROM ${chunks}`;
}

/** The split values typed as their columns (named when `named`), nulls restored. */
function typedColumns(columns: readonly StageColumn[], named: boolean): string {
  return columns.map((c, i) => `${c.type === 'TEXT' ? `nullif(c${i}, chr(31))` : `nullif(c${i}, chr(31))::${c.type}`}${named ? ` AS ${c.name}` : ''}`).join(', ');
}

/**
 * `rows` packed by column, CHUNK_ROWS at a time: one text per column, its values joined by VALUE_SEP,
 * nulls as NULL_TEXT. The rows of a chunk with a text that would not split back go to `unpackable`.
 */
function* packedChunks(columns: readonly StageColumn[], rows: Iterable<readonly SqlValue[]>, unpackable: (readonly SqlValue[])[]): Generator<string[]> {
  const width = columns.length;
  const integer = columns.map((c) => c.type !== 'TEXT');
  const int32 = columns.map((c) => c.type === 'INTEGER');
  let values: string[][] = columns.map(() => []);
  let chunkRows: (readonly SqlValue[])[] = [];
  let clean = true;
  const flush = function* (): Generator<string[]> {
    if (chunkRows.length === 0) return;
    if (clean) yield values.map((column) => column.join(VALUE_SEP));
    else unpackable.push(...chunkRows);
    values = columns.map(() => []);
    chunkRows = [];
    clean = true;
  };
  for (const row of rows) {
    chunkRows.push(row);
    for (let i = 0; i < width; i++) {
      const v = row[i];
      let text: string;
      if (v === null || v === undefined) {
        text = NULL_TEXT;
      } else if (integer[i]) {
        // What the appender would store, or its refusal (appendRow) for a value that is no integer.
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || (int32[i] && (v < -2_147_483_648 || v > 2_147_483_647))) clean = false;
        text = String(v);
      } else {
        text = String(v);
        if (text === NULL_TEXT || text.includes(VALUE_SEP)) clean = false;
      }
      values[i]!.push(text);
    }
    if (chunkRows.length === CHUNK_ROWS) yield* flush();
  }
  yield* flush();
}

/** One row through the appender value by value, typed as its column. */
function appendRow(appender: DuckDBAppender, columns: readonly StageColumn[], row: readonly SqlValue[]): void {
  columns.forEach((c, i) => {
    const v = row[i];
    if (v === null || v === undefined) appender.appendNull();
    else if (c.type === 'TEXT') appender.appendVarchar(String(v));
    else if (c.type === 'BIGINT') appender.appendBigInt(BigInt(v));
    else appender.appendInteger(Number(v));
  });
  appender.endRow();
}
