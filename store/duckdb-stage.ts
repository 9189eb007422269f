import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { StoreError, type SqlValue, type StageColumn } from './sql-driver.ts';

/**
 * DuckDB's bulk path: temporary tables of the writer's connection filled by the appender. A table is
 * created on first use and emptied by the transaction that used it, before its COMMIT
 * (DuckDbDriver.transaction), so the next use finds it empty and appends at once.
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

  /** Fills the staging table with `rows`; `run` sends its CREATE or DELETE (in the caller's transaction). */
  async stageRows(schema: string, table: string, columns: readonly StageColumn[], rows: Iterable<readonly SqlValue[]>, run: (sql: string) => Promise<unknown>): Promise<string> {
    // A temporary table: in memory, outside the database file and its write-ahead log.
    const local = `${schema}_${table}`;
    const name = `temp.main.${local}`;
    if (!this.stageTables.has(local)) {
      await run(`CREATE OR REPLACE TEMP TABLE ${local} (${columns.map((c) => `${c.name} ${c.type}`).join(', ')})`);
      this.stageTables.add(local);
    } else if (this.usedStages.has(local)) {
      await run(`DELETE FROM ${name}`);
    }
    this.usedStages.add(local);
    let staged = 0;
    let appender: DuckDBAppender | undefined;
    try {
      appender = await this.connection.createAppender(local, 'main', 'temp');
      for (const row of rows) {
        staged++;
        columns.forEach((c, i) => {
          const v = row[i];
          if (v === null || v === undefined) appender!.appendNull();
          else if (c.type === 'TEXT') appender!.appendVarchar(String(v));
          else if (c.type === 'BIGINT') appender!.appendBigInt(BigInt(v));
          else appender!.appendInteger(Number(v));
        });
        appender.endRow();
      }
      appender.closeSync();
    } catch (error) {
      // What was appended and not flushed is dropped, never flushed later by the appender's release.
      try { appender?.clear(); appender?.closeSync(); } catch { /* the statement failed already */ }
      if (error instanceof StoreError) throw error; // the rows' own (a lazily produced row refused)
      throw new StoreError(`staging row ${staged} into ${name} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    return name;
  }

  /** DELETEs for the staging tables that may hold rows (they hold none once those run). */
  emptyStages(): string[] {
    const out = [...this.usedStages].map((local) => `DELETE FROM temp.main.${local}`);
    this.usedStages.clear();
    return out;
  }

  /** After a rollback: a staging table created in the rolled-back transaction is gone; one emptied there is full again. */
  forget(): void {
    this.stageTables.clear();
    this.usedStages.clear();
  }
}
