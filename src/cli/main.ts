/**
 * `wgts` entry: the subcommand table, usage and version (the role of wg.c).
 * wg's positional grammar is hand-parsed by each subcommand (byte-exact usage and errors), so no
 * argument-parsing library is used here. yargs was on the design card; it is deliberately not a
 * dependency: wg's grammar (options only before the first `peer`, `Invalid argument: <token>`,
 * per-subcommand help quirks) and wg-quick's exact usage texts cannot be produced through it, and the
 * few wgts-only options (`quick --nat-via`, `registry --zone`) do not justify a second parser.
 */
import { basename } from 'node:path';
import type { Command } from './command.js';
import { showCommand } from './show.js';
import { showconfCommand } from './showconf.js';
import { setCommand } from './set.js';
import { setconfCommand, addconfCommand, syncconfCommand } from './setconf.js';
import { genkeyCommand, genpskCommand } from './genkey.js';
import { pubkeyCommand } from './pubkey.js';
import { quickCommand } from './quick.js';
import { registryCommand } from './registry.js';

/** The version wg would print is upstream's; ours is the package's. */
export const WGTS_VERSION = '0.1.0';

/** wg's subcommands, in wg's order, then wgts' own. */
export const WG_COMMANDS: readonly Command[] = [
  showCommand,
  showconfCommand,
  setCommand,
  setconfCommand,
  addconfCommand,
  syncconfCommand,
  genkeyCommand,
  genpskCommand,
  pubkeyCommand,
];
export const WGTS_COMMANDS: readonly Command[] = [quickCommand, registryCommand];

function usage(argv0: string): string {
  const lines = [`Usage: ${argv0} <cmd> [<args>]`, '', 'Available subcommands:'];
  for (const c of [...WG_COMMANDS, ...WGTS_COMMANDS]) lines.push(`  ${c.name}: ${c.summary}`);
  lines.push("You may pass `--help' to any of these subcommands to view usage.");
  return lines.join('\n') + '\n';
}

/**
 * `wgts show | head -1`: wg dies of SIGPIPE without a word (the shell reports 141); Node would
 * throw EPIPE with a stack trace instead. Exit as quietly, with the status the shell would show.
 */
let pipeGuarded = false;
function quietOnClosedPipe(): void {
  if (pipeGuarded) return;
  pipeGuarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(128 + 13);
      throw err;
    });
  }
}

/**
 * Runs wgts. `argv` is process.argv without the node binary: argv[0] is the script path, whose
 * basename is printed in usage lines as wg prints its argv[0].
 */
export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe();
  const argv0 = basename(argv[0] ?? 'wgts');
  const args = argv.slice(1);
  if (args.length === 1 && ['-v', '--version', 'version'].includes(args[0]!)) {
    process.stdout.write(`wgts v${WGTS_VERSION} - wireguard-tools compatible\n`);
    return 0;
  }
  if (args.length === 1 && ['-h', '--help', 'help'].includes(args[0]!)) {
    process.stdout.write(usage(argv0));
    return 0;
  }
  if (args.length === 0) return showCommand.run(argv0, []);
  const name = args[0]!;
  const command = [...WG_COMMANDS, ...WGTS_COMMANDS].find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`Invalid subcommand: \`${name}'\n`);
    process.stderr.write(usage(argv0));
    return 1;
  }
  return command.run(argv0, args.slice(1));
}
