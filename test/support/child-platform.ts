import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './runbooks.ts';

/** A platform process a test can kill -9 (test/support/child-platform-main.ts). */
export interface ChildPlatform {
  url: string;
  lines: string[];
  /** SIGKILL: no shutdown, no record of what was running. */
  kill(): Promise<void>;
}

export interface ChildPlatformOptions {
  /** The project directory whose cdk.json holds the environment (default: this repository). */
  cwd?: string;
  dataDir: string;
  environment: string;
  runbooksDir?: string;
  statemachinesDir?: string;
  kube?: { url: string; token: string };
  prometheusUrl?: string;
  shellAllow?: string[];
  simulated?: { prometheus: string; kubeconfig: string; aws: string };
  waitScale?: number;
}

export async function startChildPlatform(options: ChildPlatformOptions): Promise<ChildPlatform> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'test/support/child-platform-main.ts'),
      JSON.stringify({ cwd: ROOT, ...options }),
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  const errors: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => errors.push(chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (line.startsWith('READY ')) resolve(line.slice('READY '.length));
      }
    });
    child.once('exit', (code) =>
      reject(new Error(`the platform process exited (${code}) before it listened:\n${errors.join('')}`)),
    );
  });
  return {
    url,
    lines,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
