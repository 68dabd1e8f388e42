/**
 * The configuration file behind a running tunnel, for commands that read what the kernel does not
 * keep (friendly names, endpoint host names): the file `wgts quick up` used (its state file), else
 * wg-quick's /etc/wireguard/IFACE.conf. Undefined when neither is readable.
 */
import { readFile, stat } from 'node:fs/promises';
import { tunnelConfigPath } from '../quick/journal.js';

export interface TunnelConfig {
  path: string;
  text: string;
  /** Modification time and size, for callers that cache what they derive from the text. */
  version: string;
}

export { tunnelConfigPath };

export async function readTunnelConfig(ifname: string): Promise<TunnelConfig | undefined> {
  const path = await tunnelConfigPath(ifname);
  try {
    const st = await stat(path);
    return { path, text: await readFile(path, 'utf8'), version: `${st.mtimeMs}:${st.size}` };
  } catch {
    return undefined;
  }
}
