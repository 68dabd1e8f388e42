// The esbuild options every wgts bundle shares: scripts/build.mjs (dist/), the quick test harness's
// private build, and the kernel netlink benchmark. One place, so a change reaches all of them.
// Native packages (koffi, netlink) stay external: they load their prebuilt binaries at run time.
export const bundleOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['koffi', 'netlink'],
  // ESM bundles need a require() for the CommonJS dependencies esbuild inlines.
  banner: { js: "import { createRequire as __wgtsCreateRequire } from 'node:module'; const require = __wgtsCreateRequire(import.meta.url);" },
  logLevel: 'warning',
};
