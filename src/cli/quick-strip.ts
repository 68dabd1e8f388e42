/**
 * `wgts quick strip NAME|PATH`: prints what `wg-quick strip` prints — the configuration without
 * wg-quick's own keys, plus the empty line its `echo` adds — after the same checks: the config
 * search path and name rules, the world-accessible warning, SaveConfig validation. Errors read
 * `<argv0> quick: <wg-quick's message>`, exit 1.
 */
import { readFileSync } from 'node:fs';
import { decodeConfig, encodeConfig } from '../conf/encoding.js';
import { parseQuickConfig, resolveQuickTarget } from '../conf/quick.js';
import { systemFs } from '../system/conf-io.js';
// One copy of wg-quick's world-accessible check and its message, shared with `quick up/down/save`.
import { worldAccessibleWarning } from '../quick/target.js';

/** Where runStrip writes (default: the process's stdout and stderr). */
export interface StripIo {
  stdout: (data: Uint8Array) => void;
  stderr: (text: string) => void;
}

const processIo: StripIo = {
  stdout: (data) => process.stdout.write(data),
  stderr: (text) => process.stderr.write(text),
};

export async function runStrip(argv0: string, target: string, io: StripIo = processIo): Promise<number> {
  try {
    const { configFile } = resolveQuickTarget(target, systemFs);
    const warning = await worldAccessibleWarning(configFile);
    if (warning) io.stderr(`${warning}\n`);
    // bash reads bytes (LC_ALL=C): decoded and encoded the same way, every byte stays as it was.
    const { text, encoding } = decodeConfig(readFileSync(configFile));
    const { wgText } = parseQuickConfig(text, configFile);
    io.stdout(encodeConfig(wgText + '\n', encoding));
    return 0;
  } catch (e) {
    // wg-quick's own refusals; anything else (an unreadable file) is reported the same way.
    io.stderr(`${argv0} quick: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
