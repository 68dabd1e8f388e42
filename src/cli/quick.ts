import type { Command } from './command.js';

export const quickCommand: Command = {
  name: 'quick',
  summary: 'Brings a WireGuard interface up or down from a wg-quick configuration (up, down, save, strip)',
  async run(argv0) {
    process.stderr.write(`${argv0}: quick is not implemented yet\n`);
    return 1;
  },
};
