/**
 * Flag parsing for wgts' own flag-style commands (exporter, reresolve, lint, allowed-ips, peer, registry) through
 * node:util's parseArgs; wg's positional grammar keeps its hand-written parsers. One place turns
 * parseArgs' exceptions into a one-line usage error, so every such command fails the same way.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A bad command line: the message is printed after `<argv0> <command>: `, then the usage text. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with positionals allowed and strict checking; throws UsageError on a bad command line. */
export function parseFlags<O extends Options>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    // Node's first sentence says it ("Unknown option '--foo'"); its advice on `--` does not fit
    // commands whose positionals are interface names and paths.
    const text = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    throw new UsageError(text.replace(/\. To specify a positional argument.*$/, ''));
  }
}

/**
 * Runs a flag-style command body: usage errors print `<argv0> <name>: <message>` and the usage
 * text on stderr and exit 1; `--help` is each command's to handle.
 */
export async function withUsage(argv0: string, name: string, usage: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${argv0} ${name}: ${e.message}\n${usage}`);
    return 1;
  }
}
