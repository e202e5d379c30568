import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { toMermaid } from '../functions/core/compiler/mermaid.ts';
import { RunbookAutopilotError } from '../functions/core/errors.ts';
import { Substitution } from '../functions/core/execution-contract.ts';
import { CATALOG_FILE, runbookCatalogText } from '../functions/core/runbook/catalog.ts';
import { runbookJsonSchemaText } from '../functions/core/runbook/schema.ts';
import { TOOL_CATALOG, TOOL_DECLARATIONS } from '../functions/tools/declarations.ts';
import { rbacManifest } from '../functions/tools/kubernetes/rbac.ts';
import { spliceToolReference, toolReferenceMarkdown } from '../functions/tools/reference.ts';
import { runnerToolsOf } from '../infra/constructs/runbook-artifacts.ts';
import { tuneHeapForServer } from './heap.ts';
import { matchCommand } from './match.ts';
import {
  collectPair,
  type RollbackOptions,
  rollbackCommand,
  type StartOptions,
  startCommand,
} from './operate.ts';
import { cdkJsonPath, loadPolicies } from './project.ts';
import {
  compileRunbookFiles,
  formatResults,
  listRunbookFiles,
  validateRunbookFiles,
} from './runbook-files.ts';

export const DEFAULT_RUNBOOKS_DIR = 'runbooks';
export const DEFAULT_STATEMACHINES_DIR = 'statemachines';
export const SCHEMA_FILE = join(DEFAULT_RUNBOOKS_DIR, 'schema.json');

/** Where the CLI writes; tests pass their own. */
export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  cwd: string;
}

const defaultIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  cwd: process.cwd(),
};

/** Exit code carried by an error a command raises on purpose (bad input, stale output). */
class ExitError extends RunbookAutopilotError {
  override readonly name = 'ExitError';
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

function validateCommand(io: Io, paths: string[]): number {
  const { files, missing } = listRunbookFiles(paths.map((path) => resolve(io.cwd, path)));
  for (const path of missing) io.out(`${path}  no such file or directory`);
  const results = validateRunbookFiles(files, {
    tools: TOOL_CATALOG,
    policies: loadPolicies(cdkJsonPath(io.cwd)),
  });
  const lines = formatResults(results, io.cwd);
  for (const line of lines) io.out(line);
  const bad = results.filter((result) => result.problems.length > 0).length;
  if (files.length === 0 && missing.length === 0) {
    io.err(`no runbook files (*.yaml, *.yml) in ${paths.join(', ')}`);
    return 1;
  }
  if (lines.length > 0 || missing.length > 0) {
    io.err(
      `${lines.length + missing.length} problem(s) in ${bad + missing.length} of ${files.length + missing.length} file(s)`,
    );
    return 1;
  }
  io.err(`${files.length} runbook(s) valid`);
  return 0;
}

function compileCommand(io: Io, paths: string[], options: { out: string; check?: boolean }): number {
  const absolute = paths.map((path) => resolve(io.cwd, path));
  const { files, missing } = listRunbookFiles(absolute);
  for (const path of missing) io.out(`${path}  no such file or directory`);
  const results = validateRunbookFiles(files, {
    tools: TOOL_CATALOG,
    policies: loadPolicies(cdkJsonPath(io.cwd)),
  });
  const problems = formatResults(results, io.cwd);
  if (problems.length > 0 || missing.length > 0) {
    for (const line of problems) io.out(line);
    io.err(`not compiled: fix the ${problems.length + missing.length} problem(s) above first`);
    return 1;
  }
  const outDir = resolve(io.cwd, options.out);
  const compiled = compileRunbookFiles(results, outDir, TOOL_CATALOG);
  let failed = 0;
  const stale: string[] = [];
  for (const entry of compiled) {
    const file = relative(io.cwd, entry.file);
    if (entry.error) {
      io.out(`${file}  ${entry.error.budget} budget: ${entry.error.message}`);
      failed++;
      continue;
    }
    const { text, budgets } = entry.compiled!;
    const outFile = relative(io.cwd, entry.outFile);
    const current = existsSync(entry.outFile) ? readFileSync(entry.outFile, 'utf8') : undefined;
    const summary = `${kb(budgets.definitionBytes)} of 1 MB, ≤ ${budgets.historyEvents} of 25,000 history events, state ≤ ${kb(budgets.payloadBytes)} of 256 KB`;
    if (options.check) {
      if (current !== text) stale.push(`${outFile}  is stale: run npm run compile`);
      continue;
    }
    if (current !== text) {
      mkdirSync(outDir, { recursive: true });
      writeFileSync(entry.outFile, text);
      io.err(`compiled ${file} -> ${outFile} (${summary})`);
    } else {
      io.err(`unchanged ${outFile} (${summary})`);
    }
  }
  // Compiling whole directories also removes machines whose runbook is gone.
  if (failed === 0 && absolute.every((path) => statSync(path).isDirectory()) && existsSync(outDir)) {
    const produced = new Set(compiled.map((entry) => entry.outFile));
    for (const entry of readdirSync(outDir).sort()) {
      const outFile = join(outDir, entry);
      if (!entry.endsWith('.asl.json') || produced.has(outFile)) continue;
      if (options.check) stale.push(`${relative(io.cwd, outFile)}  has no runbook: run npm run compile`);
      else {
        rmSync(outFile);
        io.err(`removed ${relative(io.cwd, outFile)} (no runbook)`);
      }
    }
  }
  // Whole directories also get the runbook catalog the AWS classifier bundles.
  if (failed === 0 && absolute.every((path) => statSync(path).isDirectory())) {
    const catalogFile = join(outDir, CATALOG_FILE);
    const text = runbookCatalogText(compiled.map((entry) => entry.runbook));
    const current = existsSync(catalogFile) ? readFileSync(catalogFile, 'utf8') : undefined;
    if (options.check && current !== text)
      stale.push(`${relative(io.cwd, catalogFile)}  is stale: run npm run compile`);
    else if (!options.check && current !== text) {
      mkdirSync(outDir, { recursive: true });
      writeFileSync(catalogFile, text);
      io.err(`wrote ${relative(io.cwd, catalogFile)} (${compiled.length} runbooks)`);
    }
  }
  for (const line of stale) io.out(line);
  if (failed > 0) {
    io.err(`${failed} runbook(s) over a Step Functions budget`);
    return 1;
  }
  if (stale.length > 0) return 1;
  if (options.check) io.err(`${compiled.length} state machine(s) up to date`);
  return 0;
}

function graphCommand(io: Io, id: string, options: { runbooks: string }): number {
  const file = [
    resolve(io.cwd, options.runbooks, `${id}.yaml`),
    resolve(io.cwd, options.runbooks, `${id}.yml`),
  ].find(existsSync);
  if (!file) {
    const { files } = listRunbookFiles([resolve(io.cwd, options.runbooks)]);
    const ids = files.map((candidate) => candidate.replace(/^.*\//, '').replace(/\.ya?ml$/, ''));
    throw new ExitError(1, `no runbook "${id}" in ${options.runbooks}/; known: ${ids.join(', ') || 'none'}`);
  }
  const [result] = validateRunbookFiles([file], {
    tools: TOOL_CATALOG,
    policies: loadPolicies(cdkJsonPath(io.cwd)),
  });
  const problems = formatResults([result!], io.cwd);
  if (problems.length > 0) {
    for (const line of problems) io.out(line);
    return 1;
  }
  const [entry] = compileRunbookFiles([result!], resolve(io.cwd, DEFAULT_STATEMACHINES_DIR), TOOL_CATALOG);
  if (entry?.error) throw new ExitError(1, entry.error.message);
  io.out(
    toMermaid(
      entry!.compiled!.definition,
      `${entry!.runbook.name} (${entry!.runbook.id}@${entry!.runbook.version})`,
    ).trimEnd(),
  );
  return 0;
}

/**
 * `runbook rbac`: the Kubernetes RBAC the step runners need, for `kubectl apply -f -`. The runbooks are
 * validated and compiled in memory (as `compile` does) and each runner's tools read from the compiled
 * machines the way infra derives their IAM; stdout carries the manifest only.
 */
function rbacCommand(io: Io, options: { runbooks: string }): number {
  const dir = resolve(io.cwd, options.runbooks);
  const { files, missing } = listRunbookFiles([dir]);
  if (missing.length > 0) throw new ExitError(1, `no runbooks directory ${options.runbooks}`);
  if (files.length === 0) throw new ExitError(1, `no runbook files (*.yaml, *.yml) in ${options.runbooks}`);
  const results = validateRunbookFiles(files, {
    tools: TOOL_CATALOG,
    policies: loadPolicies(cdkJsonPath(io.cwd)),
  });
  const problems = formatResults(results, io.cwd);
  if (problems.length > 0) {
    for (const line of problems) io.err(line);
    throw new ExitError(1, `no RBAC printed: fix the ${problems.length} problem(s) above first`);
  }
  const statemachines = resolve(io.cwd, DEFAULT_STATEMACHINES_DIR);
  const compiled = compileRunbookFiles(results, statemachines, TOOL_CATALOG);
  const failed = compiled.find((entry) => entry.error);
  if (failed) throw new ExitError(1, `${relative(io.cwd, failed.file)}  ${failed.error!.message}`);
  const readOnly: string[] = [];
  const mutating: string[] = [];
  const stale: string[] = [];
  for (const entry of compiled) {
    const tools = runnerToolsOf(entry.compiled!.definition);
    readOnly.push(...tools[Substitution.ReadOnlyRunner]);
    mutating.push(...tools[Substitution.MutatingRunner]);
    if (existsSync(entry.outFile) && readFileSync(entry.outFile, 'utf8') !== entry.compiled!.text) {
      stale.push(relative(io.cwd, entry.outFile));
    }
  }
  if (stale.length > 0) {
    io.err(
      `runbook: warning: ${stale.join(', ')} ${stale.length === 1 ? 'is' : 'are'} stale: this RBAC follows ${options.runbooks}/, the deployed stack follows ${DEFAULT_STATEMACHINES_DIR}/ (run npm run compile, then deploy)`,
    );
  }
  io.out(rbacManifest({ readOnly, mutating }, TOOL_CATALOG).trimEnd());
  return 0;
}

function schemaCommand(io: Io, options: { out: string; check?: boolean }): number {
  const file = resolve(io.cwd, options.out);
  const text = runbookJsonSchemaText(TOOL_CATALOG.names());
  const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (options.check) {
    if (current === text) return 0;
    io.out(`${options.out}  is stale: run npm run compile`);
    return 1;
  }
  if (current !== text) {
    writeFileSync(file, text);
    io.err(`wrote ${options.out}`);
  }
  return 0;
}

function docsCommand(io: Io, options: { readme: string; check?: boolean }): number {
  const file = resolve(io.cwd, options.readme);
  if (!existsSync(file)) throw new ExitError(1, `no ${options.readme} here`);
  const current = readFileSync(file, 'utf8');
  const text = spliceToolReference(current, toolReferenceMarkdown(TOOL_DECLARATIONS));
  if (options.check) {
    if (current === text) return 0;
    io.out(`${options.readme}  the tool reference is stale: run npm run compile`);
    return 1;
  }
  if (current !== text) {
    writeFileSync(file, text);
    io.err(`wrote the tool reference in ${options.readme}`);
  }
  return 0;
}

export interface ServeOptions {
  port: string;
  data: string;
  runbooks: string;
  statemachines: string;
  token?: string;
  allowedHost?: string[];
  env: string;
  live?: boolean;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new ExitError(2, `--port must be a port number (0-65535), got "${value}"`);
  return port;
}

/** `--wait-scale`: a factor greater than 0 and at most 1 (waits are only ever shortened). */
function parseWaitScale(value: string): number {
  const factor = Number(value);
  if (value.trim() === '' || !Number.isFinite(factor) || factor <= 0 || factor > 1)
    throw new ExitError(
      2,
      `--wait-scale must be a number greater than 0 and at most 1 (0.1 shortens every runbook wait to a tenth, 1 waits in full), got "${value}"`,
    );
  return factor;
}

/** `--allowed-host`: a host name or address, optionally with :port (a tunnel's local port). */
function parseAllowedHost(value: string): string {
  if (/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*)(:\d{1,5})?$/.test(value)) return value;
  throw new ExitError(
    2,
    `--allowed-host takes a host name, optionally with a port (runbook.internal, localhost:9000), got "${value}"`,
  );
}

/** Runs until SIGINT/SIGTERM; resolves with the exit code. */
async function serveCommand(io: Io, options: ServeOptions): Promise<number> {
  const { startPlatform } = await import('./platform.ts');
  const port = parsePort(options.port);
  const allowedHosts = options.allowedHost?.map(parseAllowedHost);
  // A server that runs for days: keep V8's heap near what it uses (local/heap.ts).
  tuneHeapForServer();
  const running = await startPlatform({
    cwd: io.cwd,
    port,
    dataDir: resolve(io.cwd, options.data),
    runbooksDir: resolve(io.cwd, options.runbooks),
    statemachinesDir: resolve(io.cwd, options.statemachines),
    ...(options.token ? { token: options.token } : {}),
    ...(allowedHosts?.length ? { allowedHosts } : {}),
    environment: options.env,
    live: options.live === true,
    print: io.out,
  });
  const runnable = running.catalog().filter((entry) => entry.definition).length;
  io.out(
    `runbook-autopilot is running on ${running.url} (environment ${options.env}, data in ${options.data}, ${runnable} runbooks)`,
  );
  io.out(`  dashboard      ${running.url}`);
  io.out(
    `  alertmanager   POST ${running.url}webhooks/alertmanager${options.token ? ' (Authorization: Bearer <token>)' : ''}`,
  );
  io.out(`  events         POST ${running.url}events (EventBridge envelopes, e.g. CloudWatch alarms)`);
  io.out(
    options.live
      ? '  live: steps that change something act on the clusters and accounts your credentials reach'
      : '  dry run: read-only steps run for real; changes are only checked, never made (--live makes them)',
  );
  io.out('  stop with Ctrl-C; executions in flight resume at the next start');
  await new Promise<void>((resolveStop) => {
    const stop = () => resolveStop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  io.out('stopping…');
  await running.stop();
  return 0;
}

async function confirmSubscriptionCommand(
  io: Io,
  link: string | undefined,
  options: { topicArn?: string; token?: string },
): Promise<number> {
  const { ConfirmationInputError, confirmSubscription, confirmationRequest } = await import(
    './confirm-subscription.ts'
  );
  let request: ReturnType<typeof confirmationRequest>;
  try {
    request = confirmationRequest(link, options);
  } catch (error) {
    if (error instanceof ConfirmationInputError) throw new ExitError(2, error.message);
    throw error;
  }
  const { SNSClient } = await import('@aws-sdk/client-sns');
  const sns = new SNSClient({ region: request.region });
  try {
    const { subscriptionArn, endpoint } = await confirmSubscription(sns, request);
    io.out(`confirmed ${endpoint} on ${request.topicArn}`);
    io.out(`  ${subscriptionArn}`);
    io.out(
      '  unsubscribing now needs AWS credentials of the topic or subscription owner (AuthenticateOnUnsubscribe)',
    );
    return 0;
  } finally {
    sns.destroy();
  }
}

export function buildProgram(io: Io, exitCode: { value: number }): Command {
  const program = new Command('runbook')
    .description(
      'runbook-autopilot: validate, compile and run YAML runbooks as AWS Step Functions state machines',
    )
    .configureOutput({
      writeOut: (text) => io.out(text.trimEnd()),
      writeErr: (text) => io.err(text.trimEnd()),
    })
    .exitOverride()
    .showSuggestionAfterError(true);

  program
    .command('validate')
    .description(
      'check runbook files: YAML, schema, then semantic checks; prints file:line:col  path: message',
    )
    .argument('[paths...]', 'runbook files or directories', [DEFAULT_RUNBOOKS_DIR])
    .action((paths: string[]) => {
      exitCode.value = validateCommand(io, paths);
    });

  program
    .command('compile')
    .description('compile runbooks to Amazon States Language (statemachines/<id>.asl.json)')
    .argument('[paths...]', 'runbook files or directories', [DEFAULT_RUNBOOKS_DIR])
    .addOption(new Option('--out <dir>', 'output directory').default(DEFAULT_STATEMACHINES_DIR))
    .option('--check', 'write nothing; exit 1 when an output is stale')
    .action((paths: string[], options: { out: string; check?: boolean }) => {
      exitCode.value = compileCommand(io, paths, options);
    });

  program
    .command('graph')
    .description('print the compiled state machine of a runbook as a Mermaid flowchart')
    .argument('<id>', 'runbook id')
    .addOption(new Option('--runbooks <dir>', 'runbooks directory').default(DEFAULT_RUNBOOKS_DIR))
    .action((id: string, options: { runbooks: string }) => {
      exitCode.value = graphCommand(io, id, options);
    });

  program
    .command('schema')
    .description('write the JSON Schema of runbook files (for editors) generated from the model')
    .addOption(new Option('--out <file>', 'schema file').default(SCHEMA_FILE))
    .option('--check', 'write nothing; exit 1 when the file is stale')
    .action((options: { out: string; check?: boolean }) => {
      exitCode.value = schemaCommand(io, options);
    });

  program
    .command('match')
    .description(
      'which runbook an alert payload (Alertmanager webhook or CloudWatch alarm event) would start, and why not the others',
    )
    .argument('<file>', 'a JSON payload as Alertmanager posts it or EventBridge delivers it')
    .addOption(new Option('--runbooks <dir>', 'runbooks directory').default(DEFAULT_RUNBOOKS_DIR))
    .addOption(
      new Option('--env <environment>', 'environment of alerts that carry no environment label').default(
        'dev',
      ),
    )
    .option('--json', 'print the normalized alerts and selections as JSON')
    .action((file: string, options: { runbooks: string; env: string; json?: boolean }) => {
      exitCode.value = matchCommand(io, file, options);
    });

  program
    .command('coverage')
    .description(
      'which runbook takes each alert (default: the built-in catalog of kube-prometheus-stack and AWS recommended alerts), remediation or investigation, and the totals',
    )
    .argument(
      '[files...]',
      'JSON payloads (or arrays of them) as Alertmanager posts them or EventBridge delivers them',
    )
    .addOption(new Option('--runbooks <dir>', 'runbooks directory').default(DEFAULT_RUNBOOKS_DIR))
    .addOption(
      new Option('--env <environment>', 'environment of alerts that carry no environment label').default(
        'prod',
      ),
    )
    .option('--json', 'print the report as JSON')
    .action(async (files: string[], options: { runbooks: string; env: string; json?: boolean }) => {
      const { coverageCommand } = await import('./coverage.ts');
      exitCode.value = coverageCommand(io, files, options);
    });

  program
    .command('rbac')
    .description(
      "print the Kubernetes RBAC the step runners need on Amazon EKS, derived from the runbooks' tools: npx runbook rbac | kubectl apply -f -",
    )
    .addOption(new Option('--runbooks <dir>', 'runbooks directory').default(DEFAULT_RUNBOOKS_DIR))
    .action((options: { runbooks: string }) => {
      exitCode.value = rbacCommand(io, options);
    });

  const learn = program.command('learn').description('what the platform learned from its executions');
  learn
    .command('report')
    .description('the learning report: design targets as measured, per-runbook statistics, suggestions')
    .option('--json', 'print the report as JSON')
    .addOption(new Option('--url <url>', 'the running platform').default('http://127.0.0.1:8787/'))
    .addOption(new Option('--data <dir>', 'data directory, read when no platform runs').default('.runbook'))
    .addOption(
      new Option('--runbooks <dir>', 'runbooks directory (read when no platform runs)').default(
        DEFAULT_RUNBOOKS_DIR,
      ),
    )
    .option('--token <token>', 'bearer token of the platform')
    .addOption(
      new Option(
        '--env <environment>',
        'environment of the data directory (read when no platform runs)',
      ).default('dev'),
    )
    .action(
      async (options: {
        json?: boolean;
        url: string;
        data: string;
        runbooks: string;
        token?: string;
        env: string;
      }) => {
        const { fetchLearningReport, formatLearningReport } = await import('./learn.ts');
        const report = await fetchLearningReport({
          url: options.url,
          dataDir: resolve(io.cwd, options.data),
          runbooksDir: resolve(io.cwd, options.runbooks),
          cwd: io.cwd,
          environment: options.env,
          ...(options.token ? { token: options.token } : {}),
        });
        if (options.json) io.out(JSON.stringify(report, null, 2));
        else for (const line of formatLearningReport(report)) io.out(line);
        exitCode.value = 0;
      },
    );

  const learningData = (command: Command) =>
    command
      .addOption(new Option('--url <url>', 'the running platform').default('http://127.0.0.1:8787/'))
      .addOption(new Option('--data <dir>', 'data directory, read when no platform runs').default('.runbook'))
      .addOption(new Option('--runbooks <dir>', 'runbooks directory').default(DEFAULT_RUNBOOKS_DIR))
      .option('--token <token>', 'bearer token of the platform');
  learningData(
    learn
      .command('suggest')
      .description(
        'changes to the runbooks the history argues for, each a diff of the YAML with its evidence; --apply N writes one',
      )
      .argument('[runbook]', 'one runbook id (default: every runbook in the runbooks directory)'),
  )
    .option('--json', 'print the suggestions as JSON')
    .option(
      '--apply <n>',
      'write suggestion N of the list last printed (bumps the version; refuses if the file changed since)',
    )
    .action(
      async (
        runbookId: string | undefined,
        options: {
          url: string;
          data: string;
          runbooks: string;
          token?: string;
          json?: boolean;
          apply?: string;
        },
      ) => {
        const suggest = await import('./learn-suggest.ts');
        const suggestOptions = {
          url: options.url,
          dataDir: resolve(io.cwd, options.data),
          runbooksDir: resolve(io.cwd, options.runbooks),
          cwd: io.cwd,
          ...(runbookId ? { runbookId } : {}),
          ...(options.token ? { token: options.token } : {}),
        };
        try {
          if (options.apply !== undefined) {
            const number = Number(options.apply);
            if (!Number.isInteger(number) || number < 1)
              throw new ExitError(
                2,
                `--apply takes the number of a suggestion (1, 2, …), got "${options.apply}"`,
              );
            for (const line of suggest.applySuggestion(suggestOptions, number)) io.out(line);
            exitCode.value = 0;
            return;
          }
          const computed = await suggest.computeSuggestions(suggestOptions);
          if (options.json) io.out(JSON.stringify(computed, null, 2));
          else for (const line of suggest.formatSuggestions(computed, runbookId)) io.out(line);
          const count = computed.runbooks.reduce((sum, runbook) => sum + runbook.suggestions.length, 0);
          io.err(
            count === 0
              ? 'no change suggested'
              : `${count} suggestion(s), kept in ${relative(io.cwd, suggest.savedSuggestionsFile(suggestOptions.dataDir))}: apply one with runbook learn suggest${runbookId ? ` ${runbookId}` : ''} --apply N`,
          );
          exitCode.value = 0;
        } catch (error) {
          if (error instanceof suggest.SuggestRefusal) throw new ExitError(2, error.message);
          throw error;
        }
      },
    );
  learningData(
    learn
      .command('recompute')
      .description(
        "rebuild each runbook's learning aggregate from every record of the window (the incremental aggregate's repair)",
      )
      .argument('[runbook]', 'one runbook id (default: every runbook in the runbooks directory)'),
  ).action(
    async (
      runbookId: string | undefined,
      options: { url: string; data: string; runbooks: string; token?: string },
    ) => {
      const { recomputeLearning } = await import('./learn.ts');
      const results = await recomputeLearning({
        url: options.url,
        dataDir: resolve(io.cwd, options.data),
        runbooksDir: resolve(io.cwd, options.runbooks),
        cwd: io.cwd,
        ...(runbookId ? { runbookId } : {}),
        ...(options.token ? { token: options.token } : {}),
      });
      for (const result of results)
        io.out(`${result.runbookId}: recomputed from ${result.executions} execution(s) in the window`);
      exitCode.value = 0;
    },
  );
  learningData(
    learn
      .command('recommend')
      .description(
        'runbook skeletons for clusters of alerts no runbook took: an applicability rule and read-only investigation steps',
      ),
  )
    .option(
      '--write [dir]',
      'write each skeleton as <dir>/<id>.yaml, never over an existing file (default dir: <runbooks>/recommended)',
    )
    .option('--json', 'print the clusters and skeletons as JSON')
    .addOption(new Option('--team <team>', 'owner.team of the skeletons').default('sre'))
    .addOption(new Option('--notify <target>', 'escalation target the findings go to').default('default'))
    .addOption(new Option('--min-count <n>', 'only clusters seen at least this often').default('1'))
    .addOption(
      new Option(
        '--env <environment>',
        'environment of the data directory (read when no platform runs)',
      ).default('dev'),
    )
    .action(
      async (options: {
        url: string;
        data: string;
        runbooks: string;
        token?: string;
        write?: string | boolean;
        json?: boolean;
        team: string;
        notify: string;
        minCount: string;
        env: string;
      }) => {
        const minCount = Number(options.minCount);
        if (!Number.isInteger(minCount) || minCount < 1)
          throw new ExitError(2, `--min-count takes a whole number of 1 or more, got "${options.minCount}"`);
        const { formatRecommendations, recommendRunbooks } = await import('./learn-recommend.ts');
        const runbooksDir = resolve(io.cwd, options.runbooks);
        const write =
          options.write === undefined || options.write === false
            ? undefined
            : options.write === true
              ? join(runbooksDir, 'recommended')
              : resolve(io.cwd, options.write);
        const recommendations = await recommendRunbooks({
          url: options.url,
          dataDir: resolve(io.cwd, options.data),
          runbooksDir,
          cwd: io.cwd,
          environment: options.env,
          team: options.team,
          notify: options.notify,
          minCount,
          ...(options.token ? { token: options.token } : {}),
          ...(write ? { write } : {}),
        });
        if (options.json) io.out(JSON.stringify(recommendations, null, 2));
        else for (const line of formatRecommendations(recommendations, write !== undefined)) io.out(line);
        exitCode.value = recommendations.some((recommendation) => recommendation.invalid) ? 1 : 0;
      },
    );

  const automation = program
    .command('automation')
    .description('automation levels: evidence, promotions proposed, a person promoting or lowering a level');
  const server = (command: Command) =>
    command
      .addOption(new Option('--url <url>', 'the running platform').default('http://127.0.0.1:8787/'))
      .option('--token <token>', 'bearer token of the platform');
  server(
    automation
      .command('list')
      .description('every runbook’s level, what bounds it, its evidence and proposals'),
  )
    .option('--json', 'print as JSON')
    .action(async (options: { url: string; token?: string; json?: boolean }) => {
      const { automationList } = await import('./automation.ts');
      const listed = await automationList({
        url: options.url,
        ...(options.token ? { token: options.token } : {}),
      });
      if (options.json) io.out(JSON.stringify(listed.json, null, 2));
      else for (const line of listed.lines) io.out(line);
      exitCode.value = 0;
    });
  server(
    automation
      .command('promote')
      .description('apply the promotion proposed for a runbook (needs its evidence); recorded with who')
      .argument('<runbook>', 'runbook id'),
  )
    .requiredOption('--by <person>', 'who promotes (recorded)')
    .option('--reason <text>', 'why (recorded)')
    .action(
      async (runbookId: string, options: { url: string; token?: string; by: string; reason?: string }) => {
        const { automationPromote } = await import('./automation.ts');
        const lines = await automationPromote({
          url: options.url,
          runbookId,
          by: options.by,
          ...(options.token ? { token: options.token } : {}),
          ...(options.reason ? { reason: options.reason } : {}),
        });
        for (const line of lines) io.out(line);
        exitCode.value = 0;
      },
    );
  server(
    automation
      .command('set')
      .description('lower a runbook’s level (raising takes a promotion); recorded with who')
      .argument('<runbook>', 'runbook id')
      .argument('<level>', 'observe, shadow, approve or autonomous'),
  )
    .requiredOption('--by <person>', 'who sets it (recorded)')
    .option('--reason <text>', 'why (recorded)')
    .action(
      async (
        runbookId: string,
        level: string,
        options: { url: string; token?: string; by: string; reason?: string },
      ) => {
        const { automationSet } = await import('./automation.ts');
        const lines = await automationSet({
          url: options.url,
          runbookId,
          level,
          by: options.by,
          ...(options.token ? { token: options.token } : {}),
          ...(options.reason ? { reason: options.reason } : {}),
        });
        for (const line of lines) io.out(line);
        exitCode.value = 0;
      },
    );

  const breaker = program
    .command('breaker')
    .description(
      'circuit breakers: a runbook failing again and again starts nothing until a person closes its breaker',
    );
  server(breaker.command('list').description('every runbook’s circuit breaker; open ones with why'))
    .option('--json', 'print as JSON')
    .action(async (options: { url: string; token?: string; json?: boolean }) => {
      const { breakerList } = await import('./circuit-breakers.ts');
      const listed = await breakerList({
        url: options.url,
        ...(options.token ? { token: options.token } : {}),
      });
      if (options.json) io.out(JSON.stringify(listed.json, null, 2));
      else for (const line of listed.lines) io.out(line);
      exitCode.value = 0;
    });
  server(
    breaker
      .command('close')
      .description('close a runbook’s open circuit breaker: its alerts start it again; recorded with who')
      .argument('<runbook>', 'runbook id'),
  )
    .requiredOption('--by <person>', 'who closes it (recorded)')
    .option('--reason <text>', 'why (recorded)')
    .action(
      async (runbookId: string, options: { url: string; token?: string; by: string; reason?: string }) => {
        const { breakerClose } = await import('./circuit-breakers.ts');
        const lines = await breakerClose({
          url: options.url,
          runbookId,
          by: options.by,
          ...(options.token ? { token: options.token } : {}),
          ...(options.reason ? { reason: options.reason } : {}),
        });
        for (const line of lines) io.out(line);
        exitCode.value = 0;
      },
    );

  program
    .command('audit')
    .description(
      'the audit trail: every decision and human action of one execution, resource, person, incident or the platform (kill switch), oldest first',
    )
    .option('--execution <id>', 'one execution, in order')
    .option('--resource <key>', 'one resource key (e.g. k8s-node/prod-eks/ip-10-0-1-23), across executions')
    .option('--actor <name>', 'what one person (or component: classifier, step-runner…) did')
    .option('--incident <id>', 'an incident no execution took (unmatched, ignored)')
    .option('--platform', 'kill switch and other platform-wide overrides')
    .option(
      '--since <when>',
      'only events recorded since: ISO 8601 (2024-05-02T17:00:00Z) or back from now (24h, 7d)',
    )
    .addOption(
      new Option('--format <format>', 'text, or json-lines for export (one event per line)').default('text'),
    )
    .addOption(new Option('--url <url>', 'the running platform').default('http://127.0.0.1:8787/'))
    .addOption(new Option('--data <dir>', 'data directory, read when no platform runs').default('.runbook'))
    .option('--token <token>', 'bearer token of the platform')
    .action(async (options: import('./audit.ts').AuditCommandOptions) => {
      const audit = await import('./audit.ts');
      let filter: ReturnType<typeof audit.auditFilterOfOptions>;
      let since: string | undefined;
      let format: ReturnType<typeof audit.checkFormat>;
      try {
        filter = audit.auditFilterOfOptions(options);
        since = audit.sinceOf(options.since, new Date());
        format = audit.checkFormat(options.format);
      } catch (error) {
        if (error instanceof audit.AuditUsageError) throw new ExitError(2, error.message);
        throw error;
      }
      let count = 0;
      try {
        await audit.fetchAuditEvents(
          filter,
          since,
          {
            url: options.url,
            data: resolve(io.cwd, options.data),
            ...(options.token ? { token: options.token } : {}),
          },
          (events) => {
            count += events.length;
            for (const event of events)
              io.out(format === 'json-lines' ? JSON.stringify(event) : audit.formatAuditEvent(event));
          },
        );
      } catch (error) {
        if (error instanceof audit.AuditUsageError) throw new ExitError(2, error.message);
        throw error;
      }
      if (format === 'text') io.err(`${count} event(s)`);
      exitCode.value = 0;
    });

  /** What a person's request over the API takes: where, as whom, and how to print the answer. */
  const request = (command: Command) =>
    server(command)
      .option('--by <who>', 'who asks (when the API does not know the caller)')
      .option('--json', 'print the answer as JSON');

  request(
    program
      .command('start')
      .description(
        'start a runbook by hand for a resource, with parameters: the same gates as an alert (kill switch, limits, environment, approvals)',
      )
      .argument('<runbook>', 'the runbook id')
      .requiredOption('--resource <type/id>', 'the resource, e.g. k8s-deployment/cart or ec2-instance/i-0abc')
      .option('--namespace <namespace>', 'Kubernetes namespace of the resource')
      .option('--name <name>', "the object's own name")
      .option('--cluster <cluster>', 'cluster, as alerts label it')
      .option('--region <region>', 'AWS region of the resource')
      .option('--account <account>', 'AWS account of the resource')
      .option('--param <name=value>', 'a runbook parameter (repeatable)', collectPair('--param'))
      .option(
        '--label <name=value>',
        'an alert label templates may read (repeatable)',
        collectPair('--label'),
      )
      .option('--reason <text>', 'why, recorded with the execution')
      .option('--request-id <id>', 'sent again with the same id, nothing new starts'),
  ).action(async (runbookId: string, options: StartOptions) => {
    exitCode.value = await startCommand(io.out, runbookId, options);
  });

  request(
    program
      .command('rollback')
      .description(
        'roll a finished or aborted execution back: without --to, what each point would undo; with --to, undo the changes after that step (approval per the environment)',
      )
      .argument('<execution>', 'the execution id')
      .option('--to <point>', 'keep this step and every earlier one; "start" undoes every change')
      .option('--reason <text>', 'why, recorded with the rollback'),
  ).action(async (executionId: string, options: RollbackOptions) => {
    exitCode.value = await rollbackCommand(io.out, executionId, options);
  });

  server(
    program
      .command('report')
      .description(
        'the incident report of one execution, in Markdown: alert, timeline, likely cause, changes and approvals, outcome, time to mitigate',
      )
      .argument('<execution>', 'the execution id')
      .option('--output <file>', 'write the report to this file instead of printing it'),
  ).action(async (executionId: string, options: { url: string; token?: string; output?: string }) => {
    const { reportCommand } = await import('./report.ts');
    exitCode.value = await reportCommand(io.out, executionId, {
      ...options,
      ...(options.output ? { resolvedOutput: resolve(io.cwd, options.output) } : {}),
    });
  });

  program
    .command('confirm-subscription')
    .description(
      "confirm an approver's SNS e-mail subscription so only AWS-authenticated callers can unsubscribe it (AuthenticateOnUnsubscribe)",
    )
    .argument('[link]', 'the "Confirm subscription" link of the e-mail SNS sent (in quotes; do not open it)')
    .option('--topic-arn <arn>', 'the topic (instead of the link)')
    .option('--token <token>', 'the confirmation token (instead of the link)')
    .action(async (link: string | undefined, options: { topicArn?: string; token?: string }) => {
      exitCode.value = await confirmSubscriptionCommand(io, link, options);
    });

  program
    .command('docs')
    .description("write the README's tool reference, generated from the tool declarations")
    .addOption(new Option('--readme <file>', 'the README to update').default('README.md'))
    .option('--check', 'write nothing; exit 1 when the reference is stale')
    .action((options: { readme: string; check?: boolean }) => {
      exitCode.value = docsCommand(io, options);
    });

  program
    .command('serve')
    .description('run the embedded platform: engine, store, dashboard and the HTTP API on 127.0.0.1')
    .addOption(new Option('--port <port>', 'port on 127.0.0.1').default('8787'))
    .addOption(
      new Option('--data <dir>', 'data directory (database, engine journal, secrets)').default('.runbook'),
    )
    .option('--token <token>', 'require Authorization: Bearer <token> on webhooks and the API')
    .option(
      '--allowed-host <name>',
      'also answer requests for this host name (name or name:port; repeatable), e.g. through a tunnel; every other Host is refused',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .addOption(
      new Option('--env <environment>', 'environment from cdk.json whose policy and people apply').default(
        'dev',
      ),
    )
    .addOption(new Option('--runbooks <dir>', 'runbooks directory').default(DEFAULT_RUNBOOKS_DIR))
    .addOption(
      new Option(
        '--statemachines <dir>',
        'where the compiled machines are (compiled there when stale)',
      ).default('statemachines'),
    )
    .option(
      '--live',
      'make changes (default: dry run, where mutating steps only check what they would do and change nothing)',
    )
    .action(async (options: ServeOptions) => {
      exitCode.value = await serveCommand(io, options);
    });

  program
    .command('demo')
    .description(
      "the whole loop against a simulated environment: serve, a demo target process with real Prometheus and Alertmanager when installed, the scenarios' alerts",
    )
    .addOption(new Option('--port <port>', 'port of the platform on 127.0.0.1').default('8787'))
    .addOption(
      new Option(
        '--data <dir>',
        'data directory, emptied at every start (refuses a non-empty one without the .runbook-demo marker)',
      ).default(join('.runbook', 'demo')),
    )
    .option('--auto-approve', 'approve through the links by HTTP POST instead of waiting for your click')
    .addOption(
      new Option(
        '--wait-scale <factor>',
        'shortens runbook waits by this factor, 0 < factor ≤ 1 (0.1: about a minute in all; 1: the real waits)',
      ).default('0.1'),
    )
    .addOption(
      new Option(
        '--scenario <name>',
        'a scenario to run (repeatable, or comma-separated; default: the default set; --list-scenarios shows them)',
      ).argParser((value: string, previous: string[] | undefined) => [
        ...(previous ?? []),
        ...value
          .split(',')
          .map((name) => name.trim())
          .filter(Boolean),
      ]),
    )
    .option('--list-scenarios', 'list the scenarios and exit')
    .option(
      '--runbooks <dir>',
      "runbooks to run instead of runbooks/ (your team's own directory); compiled into the demo's data directory",
    )
    .addOption(
      new Option(
        '--monitoring <mode>',
        'real: Prometheus and Alertmanager must be installed; fallback: canned PromQL answers; auto: real when installed',
      )
        .choices(['auto', 'real', 'fallback'])
        .default('auto'),
    )
    .action(
      async (options: {
        port: string;
        data: string;
        autoApprove?: boolean;
        waitScale: string;
        scenario?: string[];
        listScenarios?: boolean;
        runbooks?: string;
        monitoring: 'auto' | 'real' | 'fallback';
      }) => {
        const { demoCommand, scenarioListLines } = await import('./demo/demo.ts');
        if (options.listScenarios) {
          for (const line of scenarioListLines()) io.out(line);
          return;
        }
        const port = parsePort(options.port);
        const waitScale = parseWaitScale(options.waitScale);
        if (options.scenario) {
          const { selectScenarios, UnknownScenarioError } = await import('./sim/scenarios/index.ts');
          try {
            selectScenarios(options.scenario);
          } catch (error) {
            if (error instanceof UnknownScenarioError) throw new ExitError(2, `--scenario: ${error.message}`);
            throw error;
          }
        }
        exitCode.value = await demoCommand(io, {
          port,
          dataDir: options.data,
          autoApprove: options.autoApprove === true,
          waitScale,
          monitoring: options.monitoring,
          ...(options.scenario ? { scenarios: options.scenario } : {}),
          ...(options.runbooks ? { runbooksDir: options.runbooks } : {}),
        });
      },
    );

  return program;
}

/** Runs the CLI; returns the exit code. Never lets a stack trace reach the user. */
export async function main(argv: readonly string[], io: Io = defaultIo): Promise<number> {
  const exitCode = { value: 0 };
  const program = buildProgram(io, exitCode);
  try {
    await program.parseAsync([...argv], { from: 'node' });
    return exitCode.value;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
        ? 0
        : error.exitCode === 0
          ? 0
          : 2;
    }
    if (error instanceof ExitError) {
      io.err(`runbook: ${error.message}`);
      return error.exitCode;
    }
    if (error instanceof RunbookAutopilotError) {
      io.err(`runbook: ${error.message}`);
      return 1;
    }
    io.err(`runbook: unexpected error: ${(error as Error)?.message ?? String(error)}`);
    io.err('this is a bug in runbook-autopilot; please report it with the command you ran');
    return 70;
  }
}
