// `runbook serve` runs as JavaScript built with esbuild at its start, not through tsx: tsx transforms
// every module in a loader thread of its own (a second V8 isolate) and keeps source maps for every
// package, which cost a running server ~100 MB (BENCHMARKS.md, `runbook serve` RSS).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Inside the package, so the bundle's bare imports resolve from its node_modules. */
export const SERVE_BUILD_DIR = join(PACKAGE_ROOT, '.serve-build');
const ENTRY = join(PACKAGE_ROOT, 'local', 'bin', 'serve-entry.ts');

/**
 * A module's own URL, as tsx would give it: the sources find files next to themselves (the dashboard,
 * the compiled machines) and resolve packages from where they are, not from the bundle's chunk.
 */
const ownUrl = {
  name: 'own-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes(`${join('node_modules', '')}`)) return undefined;
      const source = readFileSync(args.path, 'utf8');
      return {
        contents: source.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)),
        loader: 'ts',
      };
    });
  },
};

/**
 * Packages stay outside the build, loaded from node_modules, except the Kubernetes client: its index
 * loads its whole generated API (every API group, ~6 MB of source and ~30 MB of heap), while built in,
 * esbuild keeps only the API groups the tools use (client.ts), in the chunk the Kubernetes tools load
 * on their first call. Its own dependencies stay outside too.
 */
export const BUILT_IN_PACKAGES = ['@kubernetes/client-node'];
const packagesOutside = {
  name: 'packages-outside',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      const builtIn = BUILT_IN_PACKAGES.some(
        (name) => args.path === name || args.path.startsWith(`${name}/`),
      );
      return builtIn ? undefined : { path: args.path, external: true };
    });
  },
};

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/**
 * Builds the CLI (the modules imported on demand in chunks of their own, loaded on demand; packages
 * outside but the Kubernetes client, loaded from node_modules as before) in a directory of this
 * process's own, removing those of processes that are gone. Resolves with the entry's URL and a cleanup, or
 * undefined when it cannot be built here (a read-only install): the caller runs through tsx then.
 */
export async function buildServe() {
  let directory;
  try {
    const { build } = await import('esbuild');
    mkdirSync(SERVE_BUILD_DIR, { recursive: true });
    for (const name of readdirSync(SERVE_BUILD_DIR)) {
      const pid = Number(/^serve-(\d+)$/.exec(name)?.[1]);
      if (pid && pid !== process.pid && !alive(pid))
        rmSync(join(SERVE_BUILD_DIR, name), { recursive: true, force: true });
    }
    directory = join(SERVE_BUILD_DIR, `serve-${process.pid}`);
    rmSync(directory, { recursive: true, force: true });
    await build({
      entryPoints: [ENTRY],
      outdir: directory,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: `node${process.versions.node.split('.')[0]}`,
      // Chunks: a module imported on demand (a tool family) is a file of its own, with the packages it
      // imports, so they load with it; in one file every package imported anywhere loaded at the start.
      splitting: true,
      // Linked maps: NODE_OPTIONS=--enable-source-maps shows stack traces in the TypeScript sources.
      sourcemap: 'linked',
      // V8 keeps each module's source in the heap: without the indentation the Kubernetes client's
      // chunk is 2.5 MB, not 6.3 MB. Names are kept (stack traces, error names).
      minifyWhitespace: true,
      plugins: [packagesOutside, ownUrl],
      logLevel: 'silent',
    });
    const entry = join(directory, 'serve-entry.js');
    if (!existsSync(entry)) throw new Error(`esbuild wrote no ${entry}`);
    return {
      url: pathToFileURL(entry).href,
      remove: () => rmSync(directory, { recursive: true, force: true }),
    };
  } catch (error) {
    if (directory) rmSync(directory, { recursive: true, force: true });
    process.stderr.write(`runbook: running through tsx (could not build the server: ${error.message})\n`);
    return undefined;
  }
}
