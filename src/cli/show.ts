import type { Command } from './command.js';

export const showCommand: Command = {
  name: 'show',
  summary: 'Shows the current configuration and device information',
  async run(argv0) {
    process.stderr.write(`${argv0}: show is not implemented yet\n`);
    return 1;
  },
};
