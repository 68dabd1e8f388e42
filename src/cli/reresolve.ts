/**
 * `wgts reresolve IFACE [--force]`: looks up again the host names of the peer endpoints in the
 * tunnel's config (cli/tunnel-config.ts) and sets the endpoints that moved (conf/reresolve.ts
 * decides which). By default only peers without a live session are looked at; `--force` takes all.
 * Prints one line per endpoint changed; exit 1 if a name could not be resolved or set, after
 * applying the others.
 */
import type { Command } from './command.js';
import { parseFlags, UsageError, withUsage } from './flags.js';
import { errorText, getDevice, setDevice } from '../system/ipc.js';
import { SYSTEM_IO } from '../system/conf-io.js';
import { readTunnelConfig, tunnelConfigPath } from './tunnel-config.js';
import { keyFromBase64 } from '../conf/keys.js';
import { formatEndpoint } from '../conf/ip.js';
import { wipeDevice } from '../conf/model.js';
import { FieldError, parseEndpoint } from '../conf/parse.js';
import { candidates, currentEndpoint, moved, namedEndpoints } from '../conf/reresolve.js';

function usage(argv0: string): string {
  return `Usage: ${argv0} reresolve <interface> [--force]\n`;
}

async function reresolve(argv0: string, ifname: string, force: boolean): Promise<number> {
  const conf = await readTunnelConfig(ifname);
  if (!conf) {
    process.stderr.write(`${argv0} reresolve: cannot read ${await tunnelConfigPath(ifname)}, the configuration of ${ifname}\n`);
    return 1;
  }
  let device;
  try {
    device = await getDevice(ifname);
  } catch (e) {
    process.stderr.write(`Unable to access interface: ${errorText(e)}\n`);
    return 1;
  }
  let failed = false;
  try {
    const plan = candidates(namedEndpoints(conf.text), device, Math.floor(Date.now() / 1000), force);
    for (const peer of plan.resolve) {
      let resolved;
      try {
        resolved = await parseEndpoint(peer.endpoint, SYSTEM_IO);
      } catch (e) {
        if (!(e instanceof FieldError)) throw e;
        process.stderr.write(`${conf.path}:${peer.line}: ${e.message}\n`);
        failed = true;
        continue;
      }
      if (!moved(device, peer.publicKey, resolved)) continue;
      try {
        // UPDATE_ONLY: a peer removed since the get is not brought back by this set.
        await setDevice({ name: ifname, peers: [{ publicKey: keyFromBase64(peer.publicKey)!, endpoint: resolved, updateOnly: true, allowedIps: [] }] });
      } catch (e) {
        process.stderr.write(`Unable to modify interface: ${errorText(e)}\n`);
        failed = true;
        continue;
      }
      const from = currentEndpoint(device, peer.publicKey) ?? '(none)';
      process.stdout.write(`${ifname}: peer ${peer.publicKey}: ${peer.host} moved from ${from} to ${formatEndpoint(resolved)}\n`);
    }
  } finally {
    wipeDevice(device);
  }
  return failed ? 1 : 0;
}

export const reresolveCommand: Command = {
  name: 'reresolve',
  run: (argv0, args) =>
    withUsage(argv0, 'reresolve', usage(argv0), async () => {
      const { values, positionals } = parseFlags(args, { force: { type: 'boolean', short: 'f' }, help: { type: 'boolean', short: 'h' } });
      if (values.help) {
        process.stdout.write(usage(argv0));
        return 0;
      }
      if (positionals.length !== 1) throw new UsageError('one interface expected');
      return reresolve(argv0, positionals[0]!, values.force ?? false);
    }),
};
