/**
 * `wgts peer add|remove|list` — onboarding clients of a server interface (src/peer/ does the work).
 * Flags are parsed with node:util's parseArgs through cli/flags.ts, as the other flag-style commands.
 * stdout carries only what scripts read (the client configuration, the listing); progress and notes
 * go to stderr. Exit status 1 on any refusal, with `<prog>: <message>`.
 */
import type { Command } from './command.js';
import { UsageError, parseFlags, withUsage } from './flags.js';
import { ago, formatBytes } from './show.js';
import { stripAnsi } from './terminal.js';
import { addPeer } from '../peer/add.js';
import { InputError, checkAllowedIps, checkDns, checkKeepalive } from '../peer/input.js';
import { listPeers, type PeerListing } from '../peer/list.js';
import { removePeer } from '../peer/remove.js';

export function peerUsage(prog: string): string {
  return `Usage: ${prog} add <interface> --name <name> [--endpoint <host>:<port>] [--ip auto|<addr>[,<addr6>]]
          [--dns <addr>,...] [--allowed-ips <cidr>,... | --split] [--keepalive <seconds>]
          [--psk] [--out <file>] [--qr <file.png>]
       ${prog} remove <interface> <name>|<public-key>
       ${prog} list <interface> [--json]

  <interface> is a name (its configuration is the file \`wgts quick up' was given, else
  /etc/wireguard/<interface>.conf) or a path to <interface>.conf.
  add: a new key pair, the next free address in each Address subnet, a [Peer] with
  \`# friendly_name=<name>' appended to the file and applied to the running interface; the
  client configuration is printed (or written to --out), with a QR code when stdout is a terminal.
  The endpoint is --endpoint (the port defaults to ListenPort), else the one remembered as
  \`# wgts: endpoint=' in the file (the first --endpoint given is remembered).

See wgts-peer(8) for more info and examples.
`;
}

function fail(prog: string, message: string): number {
  process.stderr.write(`${prog}: ${message}\n`);
  return 1;
}

async function runAdd(prog: string, args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    name: { type: 'string' },
    endpoint: { type: 'string' },
    ip: { type: 'string' },
    dns: { type: 'string' },
    'allowed-ips': { type: 'string' },
    split: { type: 'boolean' },
    keepalive: { type: 'string' },
    psk: { type: 'boolean' },
    out: { type: 'string' },
    qr: { type: 'string' },
  });
  if (positionals.length !== 1) throw new UsageError('add takes exactly one interface');
  if (values.name === undefined) throw new UsageError('add needs --name <name>');
  if (values['allowed-ips'] !== undefined && values.split) throw new UsageError('--allowed-ips and --split exclude each other');
  const qr = values.qr;
  if (qr !== undefined && !/\.png$/i.test(qr)) return fail(prog, `--qr writes a PNG image: give a file name ending in .png, not \`${qr}'`);
  const keepalive = values.keepalive !== undefined ? checkKeepalive(values.keepalive) : undefined;
  const result = await addPeer({
    iface: positionals[0]!,
    name: values.name,
    ...(values.endpoint !== undefined ? { endpoint: values.endpoint } : {}),
    ...(values.ip !== undefined ? { ip: values.ip } : {}),
    dns: values.dns !== undefined ? checkDns(values.dns) : [],
    ...(values['allowed-ips'] !== undefined ? { allowedIps: checkAllowedIps(values['allowed-ips']) } : {}),
    split: values.split ?? false,
    ...(keepalive ? { keepalive } : {}),
    psk: values.psk ?? false,
    ...(values.out !== undefined ? { out: values.out } : {}),
    ...(qr !== undefined ? { qr, png: async (text: string) => (await import('../peer/qr.js')).qrPng(text) } : {}),
  });
  const where = result.offline ? `${result.configFile} (${result.ifname} is not up: applied at its next \`wgts quick up')` : `${result.ifname} and ${result.configFile}`;
  process.stderr.write(`Added peer \`${result.name}' (${result.addresses.join(', ')}) to ${where}\n`);
  if (result.rememberedEndpoint) process.stderr.write(`Endpoint ${result.rememberedEndpoint} remembered for ${result.ifname} in ${result.configFile}\n`);
  if (result.saveConfig) {
    process.stderr.write(`Warning: SaveConfig = true in ${result.configFile}: \`wgts quick down' rewrites it from the running state and drops its comments, the peer names too\n`);
  }
  if (values.out !== undefined) process.stderr.write(`Client configuration written to ${values.out}\n`);
  else process.stdout.write(result.clientConfig);
  if (qr !== undefined) process.stderr.write(`QR code written to ${qr}\n`);
  if (process.stdout.isTTY) process.stdout.write(`\n${await (await import('../peer/qr.js')).qrTerminal(result.clientConfig)}`);
  return 0;
}

async function runRemove(prog: string, args: string[]): Promise<number> {
  const { positionals } = parseFlags(args, {});
  if (positionals.length !== 2) throw new UsageError('remove takes an interface and a peer name or public key');
  const r = await removePeer(positionals[0]!, positionals[1]!);
  const what = r.name !== undefined ? `\`${r.name}' (${r.publicKey})` : r.publicKey;
  const from = [r.onDevice ? r.ifname : '', r.inFile ? r.configFile : ''].filter((s) => s !== '').join(' and ');
  process.stderr.write(`Removed peer ${what} from ${from}\n`);
  return 0;
}

function listText(l: PeerListing, now: bigint): string {
  const rows = [['NAME', 'PUBLIC KEY', 'ADDRESSES', 'ENDPOINT', 'LATEST HANDSHAKE', 'TRANSFER']];
  for (const p of l.peers) {
    const hs = p.latestHandshake === undefined ? '-' : p.latestHandshake === 0n ? 'never' : stripAnsi(ago(p.latestHandshake, now));
    const transfer = p.rxBytes === undefined ? '-' : `${stripAnsi(formatBytes(p.rxBytes))} received, ${stripAnsi(formatBytes(p.txBytes ?? 0n))} sent`;
    rows.push([p.name ?? '(unnamed)', p.publicKey, p.allowedIps.join(', ') || '(none)', p.endpoint ?? '-', hs, transfer]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...r[i]!].length)));
  const out = rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - [...c].length))).join('  ').trimEnd());
  if (!l.running) out.push(`(${l.ifname} is not up: peers from ${l.configFile} only)`);
  return out.join('\n') + '\n';
}

/**
 * `list --json`: { "interface", "configFile", "running", "peers": [ { "name" (null if none),
 * "publicKey", "allowedIps", "endpoint" (null), "latestHandshakeUnix" (0 = never, null = not on the
 * device), "rxBytes", "txBytes" (null = not on the device), "inFile", "onDevice" } ] }.
 */
function listJson(l: PeerListing): string {
  const num = (v: bigint | undefined): number | null => (v === undefined ? null : Number(v));
  return (
    JSON.stringify(
      {
        interface: l.ifname,
        configFile: l.configFile,
        running: l.running,
        peers: l.peers.map((p) => ({
          name: p.name,
          publicKey: p.publicKey,
          allowedIps: p.allowedIps,
          endpoint: p.endpoint,
          latestHandshakeUnix: num(p.latestHandshake),
          rxBytes: num(p.rxBytes),
          txBytes: num(p.txBytes),
          inFile: p.inFile,
          onDevice: p.onDevice,
        })),
      },
      null,
      2,
    ) + '\n'
  );
}

async function runList(prog: string, args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { json: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError('list takes exactly one interface');
  const listing = await listPeers(positionals[0]!);
  process.stdout.write(values.json ? listJson(listing) : listText(listing, BigInt(Math.floor(Date.now() / 1000))));
  return 0;
}

export const peerCommand: Command = {
  name: 'peer',
  async run(argv0, args) {
    const prog = `${argv0} peer`;
    const [action, ...rest] = args;
    if (rest.some((a) => a === '--help' || a === '-h')) {
      process.stdout.write(peerUsage(prog));
      return 0;
    }
    if (action === undefined || ['--help', '-h', 'help'].includes(action)) {
      (action === undefined ? process.stderr : process.stdout).write(peerUsage(prog));
      return action === undefined ? 1 : 0;
    }
    const handler = action === 'add' ? runAdd : action === 'remove' ? runRemove : action === 'list' ? runList : undefined;
    if (!handler) {
      process.stderr.write(`${prog}: unknown action \`${action}'\n${peerUsage(prog)}`);
      return 1;
    }
    try {
      return await withUsage(argv0, 'peer', peerUsage(prog), () => handler(prog, rest));
    } catch (e) {
      const code = (e as { code?: string }).code ?? '';
      if (e instanceof InputError) return fail(prog, e.message);
      if (code === 'EACCES' || code === 'EPERM') return fail(prog, `${(e as Error).message} (run as root)`);
      return fail(prog, e instanceof Error ? e.message : String(e));
    }
  },
};
