/**
 * `wgts allowed-ips CIDR,... [--exclude CIDR,...]`: prints the minimal prefix list covering the
 * first set minus the second (conf/prefix-set.ts), ready for an AllowedIPs line.
 */
import type { Command } from './command.js';
import { parseFlags, UsageError, withUsage } from './flags.js';
import { formatPrefix, parsePrefix, PrefixError, subtractPrefixes, type Prefix } from '../conf/prefix-set.js';

function usage(argv0: string): string {
  return `Usage: ${argv0} allowed-ips <cidr>[,<cidr>...]... [--exclude <cidr>[,<cidr>...]]...\n`;
}

/** Prefixes from words that may each hold a comma- or space-separated list (as AllowedIPs values do). */
function prefixes(words: readonly string[], what: string): Prefix[] {
  const out: Prefix[] = [];
  for (const item of words.flatMap((w) => w.split(/[,\s]+/)).filter((w) => w !== '')) {
    try {
      out.push(parsePrefix(item));
    } catch (e) {
      if (!(e instanceof PrefixError)) throw e;
      throw new UsageError(`${what}: ${e.message}${e.suggestion ? ` (did you mean ${e.suggestion}?)` : ''}`);
    }
  }
  return out;
}

export const allowedIpsCommand: Command = {
  name: 'allowed-ips',
  run: (argv0, args) =>
    withUsage(argv0, 'allowed-ips', usage(argv0), async () => {
      const { values, positionals } = parseFlags(args, {
        exclude: { type: 'string', short: 'x', multiple: true },
        help: { type: 'boolean', short: 'h' },
      });
      if (values.help) {
        process.stdout.write(usage(argv0));
        return 0;
      }
      const include = prefixes(positionals, 'include');
      if (include.length === 0) throw new UsageError('no prefixes given');
      const exclude = prefixes(values.exclude ?? [], '--exclude');
      process.stdout.write(subtractPrefixes(include, exclude).map(formatPrefix).join(', ') + '\n');
      return 0;
    }),
};
