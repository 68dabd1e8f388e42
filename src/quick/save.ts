/**
 * `save` (and `down` with SaveConfig = true): the running state written back over the config file,
 * in upstream wg-quick's layout — a rebuilt [Interface] (Address per address on the link, DNS per
 * nameserver registered with resolvconf (or held by systemd-resolved, see registeredDns), MTU only if the file had one, Table, SaveConfig, the hooks
 * unexpanded), then `showconf` minus its first `[Interface]` line. Written 0600 to `<file>.tmp`
 * (created exclusively, see system/atomic-write.ts), synced, renamed over the original; comments
 * and ordering are lost, as in wg-quick.
 */
import { wipeDevice } from '../conf/model.js';
import { formatConfig } from '../conf/write.js';
import { stageFile, type StagedFile } from '../system/atomic-write.js';
import { narrate } from '../system/run.js';
import { dnsTool, resolvconfIsSymlink, resolvconfPrefix, resolvedDns } from './dns.js';
import { linkAddresses, linkMtu } from './ip.js';
import type { QuickContext } from './context.js';
import { haveProgram, query } from './system.js';

/**
 * The DNS lines to save. resolvconf: each registered `nameserver` (search domains are lost, as in
 * wg-quick). systemd-resolved (resolvectl, or resolvconf as its compatibility symlink, which has no
 * `-l`): its servers and search domains for IF, so a save keeps what `up` set through resolvectl.
 */
async function registeredDns(ifname: string): Promise<string[]> {
  const tool = await dnsTool();
  if (tool === 'resolvconf') {
    const name = `${await resolvconfPrefix()}${ifname}`;
    let out = await query(['resolvconf', '-l', name]);
    if (out.exitCode !== 0) out = await query(['cat', `/etc/resolvconf/run/interface/${name}`]);
    const servers: string[] = [];
    for (const line of out.stdout.split('\n')) {
      const m = /^nameserver ([a-zA-Z0-9_=+:%.-]+)$/.exec(line);
      if (m) servers.push(m[1]!);
    }
    if (servers.length > 0 || !(await resolvconfIsSymlink()) || !(await haveProgram('resolvectl'))) return servers;
  } else if (tool !== 'resolvectl') return [];
  const { servers, domains } = await resolvedDns(ifname);
  return servers.length > 0 ? [...servers, ...domains] : [];
}

/** The text `save` writes. */
export async function savedConfigText(ctx: QuickContext): Promise<string> {
  const i = ctx.conf.interface;
  let head = '[Interface]\n';
  // `ip -all -brief address show dev IF`: every address, IPv6 link-local included, as wg-quick saves them.
  for (const a of await linkAddresses(ctx.ifname)) head += `Address = ${a}\n`;
  for (const d of await registeredDns(ctx.ifname)) head += `DNS = ${d}\n`;
  if (i.mtuText !== undefined) {
    const mtu = await linkMtu(ctx.ifname);
    if (mtu !== undefined) head += `MTU = ${mtu}\n`;
  }
  if (i.table !== undefined && i.table !== '') head += `Table = ${i.table}\n`;
  if (i.saveConfig) head += 'SaveConfig = true\n';
  for (const [key, list] of [['PreUp', i.preUp], ['PostUp', i.postUp], ['PreDown', i.preDown], ['PostDown', i.postDown]] as const) {
    for (const h of list) head += `${key} = ${h}\n`;
  }
  narrate(`[#] wgts showconf ${ctx.ifname}`);
  const device = await (await ctx.backend()).get(ctx.ifname);
  let current: string;
  try {
    current = formatConfig(device).replace(/\n+$/, '');
  } finally {
    wipeDevice(device);
  }
  // bash: ${current_config/\[Interface\]$'\n'/$new_config}, then echo adds one newline.
  const idx = current.indexOf('[Interface]\n');
  const body = idx < 0 ? current : current.slice(0, idx) + head + current.slice(idx + '[Interface]\n'.length);
  return `${body}\n`;
}

export async function saveConfig(ctx: QuickContext): Promise<void> {
  const text = await savedConfigText(ctx);
  let staged: StagedFile;
  try {
    staged = await stageFile(ctx.configFile, text, { tmp: `${ctx.configFile}.tmp` });
  } catch (e) {
    throw new Error('Could not write configuration file', { cause: e });
  }
  try {
    await staged.commit();
  } catch (e) {
    await staged.abort();
    throw new Error('Could not move configuration file', { cause: e });
  }
}
