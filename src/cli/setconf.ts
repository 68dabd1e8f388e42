/**
 * `wgts setconf | addconf | syncconf <interface> <file>` (setconf.c): one parser (conf/parse.ts),
 * three ways of applying it (wg(8); syncconf with upstream's semantics, docs/compatibility.md).
 */
import { readFile } from 'node:fs/promises';
import { strerror } from '../conf/errno.js';
import { KEY_LEN, wipeDevice, type WgDevice } from '../conf/model.js';
import { decodeConfig, encodeConfig, type ConfigEncoding } from '../conf/encoding.js';
import { ConfigError, parseConfig } from '../conf/parse.js';
import { syncDiff } from '../conf/sync.js';
import { SYSTEM_IO } from '../system/conf-io.js';
import type { Command } from './command.js';
import { errorText, getDevice } from '../system/ipc.js';
import { applyDevice, deviceName } from './set.js';

type Mode = 'setconf' | 'addconf' | 'syncconf';

/** setconf and syncconf send every device field (zero when absent) and replace the peer list. */
function forceDeviceFields(device: WgDevice): void {
  device.replacePeers = true;
  device.privateKey ??= new Uint8Array(KEY_LEN);
  device.listenPort ??= 0;
  device.fwmark ??= 0;
}

async function run(mode: Mode, argv0: string, args: string[]): Promise<number> {
  if (args.length !== 2) {
    process.stderr.write(`Usage: ${argv0} ${mode} <interface> <configuration filename>\n`);
    return 1;
  }
  const [name, file] = args as [string, string];
  let text: string;
  let encoding: ConfigEncoding = 'latin1';
  try {
    ({ text, encoding } = decodeConfig(await readFile(file)));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    // fopen succeeds on a directory and getline then fails at once: wg applies an empty file.
    if (code !== 'EISDIR') {
      process.stderr.write(`fopen: ${strerror(code)}\n`);
      return 1;
    }
    text = '';
  }
  let device: WgDevice;
  try {
    device = await parseConfig(text, { file, ...SYSTEM_IO });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // wg echoes the file's bytes (an unrecognized line, a bad value): print them as read.
    process.stderr.write(encodeConfig(`${err.message}\n${err.trailer ? `${err.trailer}\n` : ''}`, encoding));
    return 1;
  }
  device.name = deviceName(name);
  if (mode !== 'addconf') forceDeviceFields(device);
  if (mode === 'syncconf' && device.peers.length > 0) {
    let runtime: WgDevice;
    try {
      runtime = await getDevice(device.name);
    } catch (err) {
      process.stderr.write(`Unable to retrieve current interface configuration: ${errorText(err)}\n`);
      return 1;
    }
    syncDiff(device, runtime); // copies no key of runtime's
    wipeDevice(runtime);
  }
  return applyDevice(device);
}

export const setconfCommand: Command = {
  name: 'setconf',
  run: (argv0, args) => run('setconf', argv0, args),
};
export const addconfCommand: Command = {
  name: 'addconf',
  run: (argv0, args) => run('addconf', argv0, args),
};
export const syncconfCommand: Command = {
  name: 'syncconf',
  run: (argv0, args) => run('syncconf', argv0, args),
};
