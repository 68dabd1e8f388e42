import type { Command } from './command.js';

export const pubkeyCommand: Command = {
  name: 'pubkey',
  summary: 'Reads a private key from stdin and writes a public key to stdout',
  async run(argv0) {
    process.stderr.write(`${argv0}: pubkey is not implemented yet\n`);
    return 1;
  },
};
