/**
 * `wgts lint FILE|NAME... [--json]`: reports every problem of a configuration (conf/lint.ts) as
 * `FILE:LINE: problem; fix`, or as a JSON array. Reads the file and asks which programs exist;
 * changes nothing and needs no root (except to read /etc/wireguard). Exit 0 and silent when clean,
 * 1 when anything is found, 2 when a file cannot be read or the command line is wrong.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Command } from './command.js';
import { parseFlags, UsageError, withUsage } from './flags.js';
import { SYSTEM_IO } from '../system/conf-io.js';
import { haveProgram } from '../system/run.js';
import { decodeConfig, encodeConfig, type ConfigText } from '../conf/encoding.js';
import { formatFinding, lintConfig, type Finding } from '../conf/lint.js';
import { QUICK_CONFIG_DIR, QUICK_NAME_RE } from '../conf/quick.js';
import { publicKeyFromPrivate } from '../crypto/primitives.js';

function usage(argv0: string): string {
  return `Usage: ${argv0} lint [--json] <file | interface>...\n`;
}

/** A path as given, or wg-quick's /etc/wireguard/NAME.conf for a bare interface name that is not a file here. */
function pathOf(arg: string): string {
  return !existsSync(arg) && QUICK_NAME_RE.test(arg) ? `${QUICK_CONFIG_DIR}/${arg}.conf` : arg;
}

function publicKeyOf(priv: Uint8Array): Uint8Array | null {
  try {
    return publicKeyFromPrivate(priv);
  } catch {
    return null;
  }
}

export const lintCommand: Command = {
  name: 'lint',
  run: (argv0, args) =>
    withUsage(argv0, 'lint', usage(argv0), async () => {
      const { values, positionals } = parseFlags(args, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
      if (values.help) {
        process.stdout.write(usage(argv0));
        return 0;
      }
      if (positionals.length === 0) throw new UsageError('no file given');
      const hasDnsTool = (await haveProgram('resolvconf')) || (await haveProgram('resolvectl'));
      const all: (Finding & { file: string; encoding: ConfigText['encoding'] })[] = [];
      let unreadable = false;
      for (const arg of positionals) {
        const file = pathOf(arg);
        let decoded: ConfigText;
        let mode: number;
        try {
          const st = statSync(file);
          if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
          mode = st.mode;
          decoded = decodeConfig(readFileSync(file)); // as setconf reads it, so messages quote the same text
        } catch (e) {
          process.stderr.write(`${argv0} lint: ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file' : (e as Error).message}\n`);
          unreadable = true;
          continue;
        }
        const { text, encoding } = decoded;
        const facts = { mode, hasDnsTool, services: SYSTEM_IO.services, publicKeyOf, encoding };
        for (const f of lintConfig(text, facts)) all.push({ file, encoding, ...f });
      }
      // JSON is UTF-8 text whatever the files were. The plain report gives back each file's bytes
      // where it quotes the file; the path before them came from argv and stays UTF-8.
      if (values.json) process.stdout.write(JSON.stringify(all.map(({ encoding: _, ...f }) => f), null, 2) + '\n');
      else for (const f of all) {
        const quoted = formatFinding(f.file, f).slice(f.file.length);
        process.stdout.write(Buffer.concat([Buffer.from(f.file), encodeConfig(`${quoted}\n`, f.encoding)]));
      }
      return unreadable ? 2 : all.length > 0 ? 1 : 0;
    }),
};
