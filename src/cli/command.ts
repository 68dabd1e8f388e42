/** The shape of one subcommand (the role of wg.c's table rows). */
export interface Command {
  name: string;
  /**
   * Runs the subcommand. `argv0` is the program name as wg prints it in usage lines; `args` are the
   * words after the subcommand name. Resolves to the process exit code.
   */
  run(argv0: string, args: string[]): Promise<number>;
}

/** A row of main.ts's dispatch table: the command and its one-line summary for `wgts --help`. */
export interface CommandEntry extends Command {
  summary: string;
}
