import type { Command } from './command.js';

export const setconfCommand: Command = {
  name: 'setconf',
  summary: 'Applies a configuration file to a WireGuard interface',
  async run(argv0) {
    process.stderr.write(`${argv0}: setconf is not implemented yet\n`);
    return 1;
  },
};
export const addconfCommand: Command = {
  name: 'addconf',
  summary: 'Appends a configuration file to a WireGuard interface',
  async run(argv0) {
    process.stderr.write(`${argv0}: addconf is not implemented yet\n`);
    return 1;
  },
};
export const syncconfCommand: Command = {
  name: 'syncconf',
  summary: 'Synchronizes a configuration file to a WireGuard interface',
  async run(argv0) {
    process.stderr.write(`${argv0}: syncconf is not implemented yet\n`);
    return 1;
  },
};
