import { stat } from 'node:fs/promises';
import { schemaFolderGivenForRoot } from '../batch/archive-layout.ts';
import { ConcordError } from '../pipeline/errors.ts';

/**
 * The archive holds no event that can make a cell of the day (`archiveHoldsDay`: the day's hours and,
 * for windows, those up to its last window's end) for the pipeline's schema: almost always a day not
 * archived (yet), or, when the folder itself is missing, an --archive that names the wrong place.
 * Replaying it would call every stored cell a difference nothing explains; a backfill would consume
 * the dirty cells against nothing.
 */
export class NoArchivedDayError extends ConcordError {
  readonly date: string;
  readonly archiveDir: string;
  /** False when the archive folder does not exist at all: a wrong --archive, not a day still to archive. */
  readonly archiveExists: boolean;
  /** What to say when --archive named a schema's folder inside the archive, not its root. */
  readonly slip: string | undefined;
  constructor(date: string, archiveDir: string, archiveExists = true, slip?: string) {
    super(slip !== undefined
      ? `no archived events for ${date}: ${slip}`
      : archiveExists
      ? `no archived events for ${date} in ${archiveDir}: archive the day first`
      : `no archived events for ${date}: the archive ${archiveDir} does not exist; check --archive (env CONCORD_ARCHIVE_DIR) names the folder \`concord archive --dir\` writes`,
    { domain: 'user' });
    this.date = date;
    this.archiveDir = archiveDir;
    this.archiveExists = archiveExists;
    this.slip = slip;
  }
}

/** The error for a day the archive does not hold, saying whether the archive folder exists at all, or is a schema's folder of it. */
export async function noArchivedDay(date: string, archiveDir: string): Promise<NoArchivedDayError> {
  const exists = await stat(archiveDir).then((s) => s.isDirectory(), () => false);
  return new NoArchivedDayError(date, archiveDir, exists, exists ? await schemaFolderGivenForRoot(archiveDir) : undefined);
}
