import type { BuildOptions } from 'esbuild';
export declare const bundleOptions: BuildOptions;
export declare const workerEntries: Record<string, string>;
export declare function buildWorkers(repo: string, outdir: string, extra?: BuildOptions): Promise<void>;
