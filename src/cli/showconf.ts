/** `wgts showconf <interface>`: the device's configuration as setconf reads it (showconf.c). */
import { wipeDevice, type WgDevice } from '../conf/model.js';
import { formatConfig } from '../conf/write.js';
import type { Command } from './command.js';
import { errorText, getDevice } from '../system/ipc.js';

export const showconfCommand: Command = {
  name: 'showconf',
  async run(argv0, args) {
    if (args.length !== 1) {
      process.stderr.write(`Usage: ${argv0} showconf <interface>\n`);
      return 1;
    }
    let device: WgDevice;
    try {
      device = await getDevice(args[0]!);
    } catch (err) {
      process.stderr.write(`Unable to access interface: ${errorText(err)}\n`);
      return 1;
    }
    try {
      process.stdout.write(formatConfig(device));
      return 0;
    } finally {
      wipeDevice(device);
    }
  },
};
