/** Exit status of a Unix tool killed by SIGPIPE (128 + 13): what `set -o pipefail` sees for `yes | head -1`. */
export const CLOSED_PIPE_EXIT = 141;

/**
 * A closed stdout pipe (`concord report --format json | head -1`) ends the command quietly, as it ends
 * any Unix tool. Node ignores SIGPIPE, so the write fails with EPIPE, emitted as an 'error' event: with
 * no listener that was an uncaught exception with a stack. Any other stream error is still one.
 * On stderr the same: nobody is left to read a message about it.
 */
export function endQuietlyOnClosedPipe(streams: readonly NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(CLOSED_PIPE_EXIT);
      throw error;
    });
  }
}
