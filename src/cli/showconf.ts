import type { Command } from './command.js';

export const showconfCommand: Command = {
  name: 'showconf',
  summary: "Shows the current configuration of a given WireGuard interface, for use with `setconf'",
  async run(argv0) {
    process.stderr.write(`${argv0}: showconf is not implemented yet\n`);
    return 1;
  },
};
