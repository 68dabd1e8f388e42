/**
 * `wgts set <interface> [device options] [peer <key> [peer options]]...` (set.c): the whole command
 * line is parsed and validated by conf/args.ts first, then applied in one set operation.
 */
import { FieldError } from '../conf/parse.js';
import { parseSetArgs } from '../conf/args.js';
import { wipeDevice, type WgDevice } from '../conf/model.js';
import { SYSTEM_IO } from '../system/conf-io.js';
import type { Command } from './command.js';
import { errorHint, errorText, setDevice } from '../system/ipc.js';

/** wg copies the name into a char[IFNAMSIZ] with strncpy: at most 15 bytes are kept. */
export function deviceName(arg: string): string {
  return Buffer.from(arg, 'utf8').subarray(0, 15).toString('utf8');
}

/** Applies a device model and reports as wg does; returns the exit code. */
export async function applyDevice(device: WgDevice): Promise<number> {
  try {
    await setDevice(device);
    return 0;
  } catch (err) {
    process.stderr.write(`Unable to modify interface: ${errorText(err)}\n${errorHint(err)}`);
    return 1;
  } finally {
    wipeDevice(device);
  }
}

export const SET_USAGE =
  '<interface> [listen-port <port>] [fwmark <mark>] [private-key <file path>] [peer <base64 public key> [remove] [preshared-key <file path>] [endpoint <ip>:<port>] [persistent-keepalive <interval seconds>] [allowed-ips [+|-]<ip1>/<cidr1>[,[+|-]<ip2>/<cidr2>]...] ]...';

export const setCommand: Command = {
  name: 'set',
  async run(argv0, args) {
    if (args.length < 2 || ['-h', '--help', 'help'].includes(args[0]!)) {
      process.stderr.write(`Usage: ${argv0} set ${SET_USAGE}\n`);
      return 1;
    }
    let device: WgDevice;
    try {
      device = await parseSetArgs(args.slice(1), { name: deviceName(args[0]!), ...SYSTEM_IO });
    } catch (err) {
      if (!(err instanceof FieldError)) throw err;
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    return applyDevice(device);
  },
};
