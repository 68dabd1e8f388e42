/**
 * A fake command runner for quick's unit tests (the CommandRunner of src/quick/system.ts): nothing
 * is executed. Changes and hooks are narrated as the real runner narrates them (`[#] ...`), recorded,
 * and succeed unless `failWhen` gives them an exit status; read-only looks answer from `answer`.
 * `haveProgram` knows the programs in `programs`.
 */
import { expandHook, narrateCommand, RunError, type CmdOptions, type QueryResult } from '../../src/system/run.js';
import type { CommandRunner } from '../../src/quick/system.js';

export interface RanCommand {
  argv: string[];
  input?: string;
}

export class FakeRunner implements CommandRunner {
  /** Programs found in PATH. */
  readonly programs = new Set<string>();
  /** Every change run (cmd), in order. */
  readonly ran: RanCommand[] = [];
  /** Every hook run, `%i` expanded, in order. */
  readonly hooks: string[] = [];
  /** The exit status of a change or hook (its command line as narrated), or undefined for success. */
  failWhen: (line: string) => number | undefined = () => undefined;
  /** Called before each change or hook is made (after its narration). */
  beforeChange: (line: string) => void = () => undefined;
  /** Called when a change or hook fails (failWhen gave a status). */
  onFail: () => void = () => undefined;
  /** The answer to a read-only look; exit 0 and no output when undefined. */
  answer: (argv: readonly string[]) => Partial<QueryResult> | undefined = () => undefined;

  cmd = async (argv: readonly string[], options: CmdOptions = {}): Promise<string> => {
    const line = options.shown ?? argv.join(' ');
    narrateCommand([line]);
    this.beforeChange(line);
    this.ran.push({ argv: [...argv], ...(options.input !== undefined ? { input: options.input } : {}) });
    const status = this.failWhen(line);
    if (status !== undefined) {
      this.onFail();
      throw new RunError(line, status, 'fake failure');
    }
    return '';
  };

  query = async (argv: readonly string[]): Promise<QueryResult> => ({ exitCode: 0, stdout: '', stderr: '', ...this.answer(argv) });

  haveProgram = async (program: string): Promise<boolean> => this.programs.has(program);

  hook = async (text: string, ifname: string): Promise<void> => {
    const line = expandHook(text, ifname);
    narrateCommand([line]);
    this.beforeChange(line);
    this.hooks.push(line);
    const status = this.failWhen(line);
    if (status !== undefined) {
      this.onFail();
      throw new RunError(line, status, '');
    }
  };
}
