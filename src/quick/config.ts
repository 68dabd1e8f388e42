/**
 * Step "config": the wg part of the file (wg-quick's stripped config) applied through the Backend
 * with addconf semantics, as upstream wg-quick does (`wg addconf IF <(strip)`): peers are upserted,
 * device fields are sent only when the file gives them, so a key set in PreUp survives.
 * No undo of its own: deleting the link takes the configuration with it.
 */
import { ConfigError, formatConfigError, parseConfig } from '../conf/parse.js';
import { SYSTEM_IO } from '../system/conf-io.js';
import { errorText } from '../system/ipc.js';
import { QuickError, fileError } from './target.js';
import type { WgDevice } from '../conf/model.js';
import { narrate } from '../system/run.js';
import type { QuickContext } from './context.js';

/** Parses the stripped config into the model (done before anything is created, to fail early). */
export async function parseWgPart(ctx: Pick<QuickContext, 'conf' | 'configFile' | 'ifname'>): Promise<WgDevice> {
  let device: WgDevice;
  try {
    device = await parseConfig(ctx.conf.wgText, { file: ctx.configFile, ...SYSTEM_IO });
  } catch (e) {
    if (e instanceof ConfigError) {
      const at = inFile(e, ctx.conf.wgLines);
      const where = `${at.file}:${at.line}: `; // formatConfigError's prefix, from the command line
      throw fileError(where, formatConfigError(at).slice(where.length).trimEnd(), ctx.conf.encoding, e);
    }
    throw e;
  }
  device.name = ctx.ifname;
  delete device.replacePeers; // addconf, not setconf
  return device;
}

/** The error with its line number counted in the file, not in the stripped text wg read. */
function inFile(e: ConfigError, wgLines: readonly number[]): ConfigError {
  const line = wgLines[e.line - 1] ?? e.line;
  return new ConfigError(e.message, { file: e.file, line, text: e.text }, e.trailer);
}

export async function pushConfig(ctx: QuickContext, device: WgDevice): Promise<void> {
  narrate(`[#] wgts addconf ${ctx.ifname} <(wgts quick strip ${ctx.configFile})`);
  try {
    await (await ctx.backend()).set(device);
  } catch (e) {
    throw new QuickError(`Unable to modify interface: ${errorText(e)}`, { cause: e });
  }
}
