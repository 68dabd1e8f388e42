/**
 * `wgts quick up|down|reload|save|strip CONFIG_FILE|INTERFACE` — wg-quick(8), with rollback, a NAT
 * gateway option, a live reload and a journal so `down` removes exactly what `up` added. The steps
 * live in src/quick/.
 * Exit codes as wg-quick: usage → 1 (help → 0, on stderr); a fatal error → `<prog>: <message>`, 1;
 * a failing command keeps its own exit status (127 for a missing program).
 */
import { realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from './command.js';
import { foreground, haveProgram } from '../system/run.js';
import { runStrip } from './quick-strip.js';
import { down, save } from '../quick/down.js';
import { up, exitCodeOf, messageOf } from '../quick/up.js';
import { reload } from '../quick/reload.js';
import { QuickError, loadTarget } from '../quick/target.js';
import type { QuickOptions } from '../quick/context.js';

export function quickUsage(prog: string): string {
  return `Usage: ${prog} [ up | down | save | strip ] [ CONFIG_FILE | INTERFACE ] [ --nat-via IFACE ]
       ${prog} reload [ CONFIG_FILE | INTERFACE ] [ --hooks ] [ --nat-via IFACE | --no-nat-via ]

  CONFIG_FILE is a configuration file, whose filename is the interface name
  followed by \`.conf'. Otherwise, INTERFACE is an interface name, with
  configuration found at /etc/wireguard/INTERFACE.conf. It is to be readable
  by wg(8)'s \`setconf' sub-command, with the exception of the following additions
  to the [Interface] section, which are handled by ${prog}:

  - Address: may be specified one or more times and contains one or more
    IP addresses (with an optional CIDR mask) to be set for the interface.
  - DNS: an optional DNS server to use while the device is up.
  - MTU: an optional MTU for the interface; if unspecified, auto-calculated.
  - Table: an optional routing table to which routes will be added; if
    unspecified or \`auto', the default table is used. If \`off', no routes
    are added.
  - PreUp, PostUp, PreDown, PostDown: script snippets which will be executed
    by bash(1) at the corresponding phases of the link, most commonly used
    to configure DNS. The string \`%i' is expanded to INTERFACE.
  - SaveConfig: if set to \`true', the configuration is saved from the current
    state of the interface upon shutdown.

  With \`up', --nat-via IFACE also makes this host a NAT gateway for the
  tunnel's subnets out of IFACE (forwarding on, masquerade); \`down' undoes it.

  \`reload' applies what changed in the file to a tunnel that is up, without
  taking it down: peers (sessions of unchanged peers are kept), addresses,
  MTU, routes, Table, DNS, NAT. Hooks run only with --hooks (old PreDown and
  PostDown, new PreUp and PostUp). A failure puts everything back.

See wgts-quick(8) for more info and examples.
`;
}

export interface Parsed {
  action: 'up' | 'down' | 'reload' | 'save' | 'strip';
  target: string;
  options: QuickOptions;
  hooks: boolean;
  noNatVia: boolean;
}

const ACTIONS = ['up', 'down', 'reload', 'save', 'strip'] as const;

/**
 * wgts' own flags, read by node:util's parseArgs. Not parseFlags (flags.ts): wg-quick's grammar has
 * no options, so any other word — `--foo`, `-x`, `--hooks=1` — stays a positional word (for wg-quick
 * `up --foo` names the interface `--foo`), and a malformed line prints only the usage, as wg-quick does.
 */
const FLAGS = {
  'nat-via': { type: 'string' },
  hooks: { type: 'boolean' },
  'no-nat-via': { type: 'boolean' },
} as const;

/** The action, target and flags of a `wgts quick` command line; undefined when it is malformed. */
export function parseQuickArgs(args: string[]): Parsed | undefined {
  const rest: string[] = [];
  const options: QuickOptions = {};
  let hooks = false;
  let noNatVia = false;
  // `--` is a word like any other to wg-quick, not the end of options: parseArgs sees it as a word no
  // argument can be (argv strings hold no NUL), read back as `--`.
  const words = args.map((a) => (a === '--' ? '\0' : a));
  const unmask = (w: string): string => (w === '\0' ? '--' : w);
  const { tokens } = parseArgs({ args: words, options: FLAGS, allowPositionals: true, strict: false, tokens: true });
  let lastIndex = -1;
  for (const t of tokens) {
    if (t.kind === 'option' && t.name === 'nat-via' && t.value !== undefined) options.natVia = unmask(t.value);
    else if (t.kind === 'option' && t.name === 'hooks' && !t.inlineValue) hooks = true;
    else if (t.kind === 'option' && t.name === 'no-nat-via' && !t.inlineValue) noNatVia = true;
    else if (t.index !== lastIndex) rest.push(args[t.index]!); // a word of wg-quick's grammar (a short-option group is one word)
    lastIndex = t.index;
  }
  if (rest.length !== 2) return undefined;
  const [action, target] = rest as [string, string];
  if (!(ACTIONS as readonly string[]).includes(action)) return undefined;
  if (options.natVia !== undefined && action !== 'up' && action !== 'reload') return undefined;
  if ((hooks || noNatVia) && action !== 'reload') return undefined;
  if (noNatVia && options.natVia !== undefined) return undefined;
  return { action: action as Parsed['action'], target, options, hooks, noNatVia };
}

/** Like wg-quick: the directory of our own executable is searched first (so `wgts-userspace` beside it wins). */
function preferOwnDirectory(): void {
  const self = process.argv[1];
  if (!self) return;
  try {
    const dir = dirname(realpathSync(self));
    const binDir = dir.endsWith('/dist') ? `${dirname(dir)}/bin` : dir;
    process.env.PATH = `${binDir}:${process.env.PATH ?? ''}`;
  } catch {
    /* keep PATH */
  }
}

export const quickCommand: Command = {
  name: 'quick',
  async run(argv0, args) {
    const prog = `${argv0} quick`;
    if (args.length === 1 && ['--help', '-h', 'help'].includes(args[0]!)) {
      process.stderr.write(quickUsage(prog));
      return 0;
    }
    const parsed = parseQuickArgs(args);
    if (!parsed) {
      process.stderr.write(quickUsage(prog));
      return 1;
    }
    if (process.getuid && process.getuid() !== 0) {
      // As wg-quick's auto_su: run again as root through sudo, with a prompt that says why.
      if (!(await haveProgram('sudo'))) {
        process.stderr.write(`${prog}: must be run as root (and sudo is not available)\n`);
        return 1;
      }
      const self = process.argv[1] ?? argv0;
      return foreground(['sudo', '-p', `${prog} must be run as root. Please enter the password for %u to continue: `, '--', process.execPath, self, 'quick', ...args]);
    }
    if (parsed.action === 'strip') return runStrip(argv0, parsed.target);
    preferOwnDirectory();
    try {
      const target = await loadTarget(parsed.target, parsed.options);
      if (parsed.action === 'up') await up(target);
      else if (parsed.action === 'down') await down(target);
      else if (parsed.action === 'reload') await reload(target, { hooks: parsed.hooks, noNatVia: parsed.noNatVia });
      else await save(target);
      return 0;
    } catch (e) {
      const bytes = e instanceof QuickError ? e.bytes : undefined;
      process.stderr.write(bytes ? Buffer.concat([Buffer.from(`${prog}: `), bytes, Buffer.from('\n')]) : `${prog}: ${messageOf(e)}\n`);
      return e instanceof QuickError ? e.exitCode : exitCodeOf(e);
    }
  },
};
