/**
 * `wgts` entry: the subcommand table, usage and version (the role of wg.c).
 * wg's positional grammar is hand-parsed by each subcommand (byte-exact usage and errors), so no
 * argument-parsing library is used here. yargs was on the design card; it is deliberately not a
 * dependency: wg's grammar (options only before the first `peer`, `Invalid argument: <token>`,
 * per-subcommand help quirks) and wg-quick's exact usage texts cannot be produced through it, and the
 * few wgts-only options (`quick --nat-via`, `registry --zone`) do not justify a second parser.
 */
import { writeSync } from 'node:fs';
import { basename } from 'node:path';
import { strerror } from '../conf/errno.js';
import { WGTS_VERSION } from '../conf/version.js';
import type { Command, CommandEntry } from './command.js';

/**
 * A table row whose module is loaded only when the command runs: `wgts --version` and `wgts genkey`
 * must not pay for compiling show, quick, the registry's DNS code or execa (docs/benchmarks.md,
 * "Cold start"). The summaries live here, in wg.c's table style; the modules keep only `run`.
 */
function lazy(name: string, summary: string, load: () => Promise<Command>): CommandEntry {
  return { name, summary, run: async (argv0, args) => (await load()).run(argv0, args) };
}

/** wg's subcommands, in wg's order, then wgts' own. */
export const WG_COMMANDS: readonly CommandEntry[] = [
  lazy('show', 'Shows the current configuration and device information', async () => (await import('./show.js')).showCommand),
  lazy(
    'showconf',
    "Shows the current configuration of a given WireGuard interface, for use with `setconf'",
    async () => (await import('./showconf.js')).showconfCommand,
  ),
  lazy('set', 'Change the current configuration, add peers, remove peers, or change peers', async () => (await import('./set.js')).setCommand),
  lazy('setconf', 'Applies a configuration file to a WireGuard interface', async () => (await import('./setconf.js')).setconfCommand),
  lazy('addconf', 'Appends a configuration file to a WireGuard interface', async () => (await import('./setconf.js')).addconfCommand),
  lazy('syncconf', 'Synchronizes a configuration file to a WireGuard interface', async () => (await import('./setconf.js')).syncconfCommand),
  lazy('genkey', 'Generates a new private key and writes it to stdout', async () => (await import('./genkey.js')).genkeyCommand),
  lazy('genpsk', 'Generates a new preshared key and writes it to stdout', async () => (await import('./genkey.js')).genpskCommand),
  lazy('pubkey', 'Reads a private key from stdin and writes a public key to stdout', async () => (await import('./pubkey.js')).pubkeyCommand),
];
export const WGTS_COMMANDS: readonly CommandEntry[] = [
  lazy(
    'quick',
    'Brings a WireGuard interface up or down from a wg-quick configuration (up, down, reload, save, strip)',
    async () => (await import('./quick.js')).quickCommand,
  ),
  lazy(
    'registry',
    'Serves or queries a DNS-SD registry of peer endpoints (NAT traversal)',
    async () => (await import('./registry.js')).registryCommand,
  ),
  lazy('exporter', 'Serves peer metrics for Prometheus at /metrics', async () => (await import('./exporter.js')).exporterCommand),
  lazy(
    'reresolve',
    "Re-resolves the hostnames of an interface's peer endpoints and updates those that moved",
    async () => (await import('./reresolve.js')).reresolveCommand,
  ),
  lazy('lint', 'Checks a configuration file and reports every problem with a fix', async () => (await import('./lint.js')).lintCommand),
  lazy(
    'allowed-ips',
    'Prints the fewest prefixes covering a set of prefixes minus another',
    async () => (await import('./allowed-ips.js')).allowedIpsCommand,
  ),
  lazy(
    'peer',
    'Adds, removes and lists the peers of a server interface, with client configurations and QR codes',
    async () => (await import('./peer.js')).peerCommand,
  ),
];

function usage(argv0: string): string {
  const lines = [`Usage: ${argv0} <cmd> [<args>]`, '', 'Available subcommands:'];
  for (const c of [...WG_COMMANDS, ...WGTS_COMMANDS]) lines.push(`  ${c.name}: ${c.summary}`);
  lines.push("You may pass `--help' to any of these subcommands to view usage.");
  return lines.join('\n') + '\n';
}

/**
 * Output that cannot be written. `wgts show | head -1`: wg dies of SIGPIPE without a word (the shell
 * reports 141); Node would throw EPIPE with a stack trace instead, so exit as quietly, with the
 * status the shell would show. Any other write error (`wgts genkey > /dev/full`: ENOSPC, EIO):
 * one line and exit 1, as coreutils report a write error. wg says nothing and exits 0 there (its
 * stdio buffer is flushed at exit unchecked), which would let a lost key pass for a written one.
 */
let outputGuarded = false;
function guardOutput(argv0: string): void {
  if (outputGuarded) return;
  outputGuarded = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(128 + 13);
    try {
      writeSync(2, `${argv0}: write error: ${strerror(err.code ?? 'EIO')}\n`);
    } catch {
      // stderr is unwritable too: the exit status is all that is left
    }
    process.exit(1);
  });
  // Diagnostics that cannot be written are dropped: a closed or full stderr must not stop
  // `quick up` half-way; the exit status still tells the outcome.
  process.stderr.on('error', () => undefined);
}

/**
 * Runs wgts. `argv` is process.argv without the node binary: argv[0] is the script path, whose
 * basename is printed in usage lines as wg prints its argv[0].
 */
export async function main(argv: string[]): Promise<number> {
  const argv0 = basename(argv[0] ?? 'wgts');
  guardOutput(argv0);
  const args = argv.slice(1);
  if (args.length === 1 && ['-v', '--version', 'version'].includes(args[0]!)) {
    process.stdout.write(`wgts v${WGTS_VERSION} - wireguard-tools compatible\n`);
    return 0;
  }
  if (args.length === 1 && ['-h', '--help', 'help'].includes(args[0]!)) {
    process.stdout.write(usage(argv0));
    return 0;
  }
  if (args.length === 0) return WG_COMMANDS[0]!.run(argv0, []);
  const name = args[0]!;
  const command = [...WG_COMMANDS, ...WGTS_COMMANDS].find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`Invalid subcommand: \`${name}'\n`);
    process.stderr.write(usage(argv0));
    return 1;
  }
  return command.run(argv0, args.slice(1));
}
