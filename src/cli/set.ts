import type { Command } from './command.js';

export const setCommand: Command = {
  name: 'set',
  summary: 'Change the current configuration, add peers, remove peers, or change peers',
  async run(argv0) {
    process.stderr.write(`${argv0}: set is not implemented yet\n`);
    return 1;
  },
};
