import type { Command } from './command.js';

export const genkeyCommand: Command = {
  name: 'genkey',
  summary: 'Generates a new private key and writes it to stdout',
  async run(argv0) {
    process.stderr.write(`${argv0}: genkey is not implemented yet\n`);
    return 1;
  },
};
export const genpskCommand: Command = {
  name: 'genpsk',
  summary: 'Generates a new preshared key and writes it to stdout',
  async run(argv0) {
    process.stderr.write(`${argv0}: genpsk is not implemented yet\n`);
    return 1;
  },
};
