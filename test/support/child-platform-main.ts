import { KubeConfig } from '@kubernetes/client-node';
import { demoAwsOptions, demoToolConfig } from '../../local/demo/demo.ts';
import { startPlatform } from '../../local/platform.ts';
import { LIBRARY_RUNBOOKS_DIR, libraryStatemachinesDir } from './library.ts';

/**
 * The embedded platform in a process of its own, so a test can kill it with SIGKILL (nothing gets to
 * record how it ended, as when the machine dies). Options come as JSON in argv[2]; every terminal line
 * goes to stdout, and `READY <url>` once it listens.
 */
interface ChildOptions {
  cwd: string;
  dataDir: string;
  environment: string;
  runbooksDir?: string;
  statemachinesDir?: string;
  kube?: { url: string; token: string };
  prometheusUrl?: string;
  shellAllow?: string[];
  /** The simulated environment's endpoints (its Prometheus, kubeconfig and AWS account), as the demo points tools. */
  simulated?: { prometheus: string; kubeconfig: string; aws: string };
  waitScale?: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as ChildOptions;
const kubeConfigFactory = options.kube
  ? () => {
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromOptions({
        clusters: [{ name: 'fake-cluster', server: options.kube!.url, skipTLSVerify: true }],
        users: [{ name: 'fake-user', token: options.kube!.token }],
        contexts: [{ name: 'fake', cluster: 'fake-cluster', user: 'fake-user' }],
        currentContext: 'fake',
      });
      return kubeConfig;
    }
  : undefined;

const running = await startPlatform({
  cwd: options.cwd,
  port: 0,
  dataDir: options.dataDir,
  environment: options.environment,
  live: true,
  // The project's own fixture library unless the test names its runbooks (runbooks/ is the team's).
  runbooksDir: options.runbooksDir ?? LIBRARY_RUNBOOKS_DIR,
  statemachinesDir: options.statemachinesDir ?? libraryStatemachinesDir(),
  configOverrides: options.simulated
    ? demoToolConfig(options.simulated)
    : {
        tools: {
          ...(options.prometheusUrl ? { prometheusUrl: options.prometheusUrl } : {}),
          kubernetes: { contexts: {}, eks: {} },
          shell: { enabled: (options.shellAllow ?? []).length > 0, allow: options.shellAllow ?? [] },
        },
      },
  ...(options.simulated ? { aws: demoAwsOptions(options.simulated.aws) } : {}),
  ...(options.waitScale === undefined ? {} : { waitScale: options.waitScale }),
  ...(kubeConfigFactory ? { kubeConfigFactory } : {}),
  retryIntervalMs: 20,
  print: (line) => process.stdout.write(`${line}\n`),
});
process.stdout.write(`READY ${running.url}\n`);
