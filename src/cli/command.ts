/** The shape of one subcommand in the dispatch table (the role of wg.c's table rows). */
export interface Command {
  name: string;
  /** One line, as printed by `wgts --help`. */
  summary: string;
  /**
   * Runs the subcommand. `argv0` is the program name as wg prints it in usage lines; `args` are the
   * words after the subcommand name. Resolves to the process exit code.
   */
  run(argv0: string, args: string[]): Promise<number>;
}
