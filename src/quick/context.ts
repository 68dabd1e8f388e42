/**
 * What every `quick` step sees: the interface, its parsed wg-quick configuration, the backend that
 * reaches the WireGuard device, and the undo journal that both rollback and `down` replay.
 */
import type { Backend } from '../conf/backend.js';
import type { QuickConfig } from '../conf/quick.js';
import type { AppliedRoute, UndoAction } from './journal.js';

export interface QuickOptions {
  /** `--nat-via IFACE`: masquerade traffic from the tunnel's subnets out of IFACE (see nat.ts). */
  natVia?: string;
}

export interface QuickContext {
  ifname: string;
  configFile: string;
  conf: QuickConfig;
  options: QuickOptions;
  /** Opens the backend for the interface (after the link exists). */
  backend(): Promise<Backend>;
  /**
   * Records how to undo what a step just did. Undo actions are data (see journal.ts): rollback replays
   * them in reverse at once; `up` writes them to the state file so `down` removes exactly what `up` added.
   */
  undo(action: UndoAction): (replacement: UndoAction[]) => void;
  /** Marks a shared resource (e.g. `sysctl:net.ipv4.ip_forward`) as needed while this tunnel is up. */
  hold(resource: string): void;
  /** The routing table / fwmark chosen for a default route, once known. */
  fwmarkTable?: number;
  /** The routes added on the link so far (for `reload` to compare with). */
  routes: AppliedRoute[];
}
