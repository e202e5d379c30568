import { execFile, spawn } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { Substitution } from '../../../functions/core/execution-contract.ts';
import { TOOL_CATALOG } from '../../../functions/tools/declarations.ts';
import { rbacManifest } from '../../../functions/tools/kubernetes/rbac.ts';
import { loadCompiledRunbooks } from '../../../infra/constructs/runbook-artifacts.ts';
import { main } from '../../../local/cli.ts';
import { SCENARIOS } from '../../../local/sim/scenarios/index.ts';
import { LIBRARY_RUNBOOKS_DIR, libraryStatemachinesDir } from '../../support/library.ts';
import { ROOT } from '../../support/runbooks.ts';

const run = promisify(execFile);

function capture(cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (line: string) => out.push(line), err: (line: string) => err.push(line), cwd },
    out,
    err,
  };
}

describe('runbook CLI', () => {
  let workspace: string;

  beforeEach(() => {
    // Prepare: a project with the test library's runbooks and cdk.json
    workspace = mkdtempSync(join(tmpdir(), 'runbook-cli-'));
    cpSync(join(ROOT, LIBRARY_RUNBOOKS_DIR), join(workspace, 'runbooks'), { recursive: true });
    copyFileSync(join(ROOT, 'runbooks', 'schema.json'), join(workspace, 'runbooks', 'schema.json'));
    copyFileSync(join(ROOT, 'cdk.json'), join(workspace, 'cdk.json'));
  });

  afterEach(() => rmSync(workspace, { recursive: true, force: true }));

  it('validate exits 0 on valid runbooks', async () => {
    const { io, out, err } = capture(workspace);
    expect(await main(['node', 'runbook', 'validate'], io)).toBe(0);
    expect(out).toEqual([]);
    expect(err.at(-1)).toMatch(/^\d+ runbook\(s\) valid$/);
  });

  it('validate prints file:line:col  path: message for every problem and exits 1', async () => {
    // Prepare
    const broken = join(workspace, 'runbooks', 'node-memory-pressure.yaml');
    writeFileSync(broken, readFileSync(broken, 'utf8').replace('tool: k8s.cordon', 'tool: k8s.cordn'));

    // Act
    const { io, out, err } = capture(workspace);
    const code = await main(['node', 'runbook', 'validate', 'runbooks/node-memory-pressure.yaml'], io);

    // Assess
    expect(code).toBe(1);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(
      /^runbooks\/node-memory-pressure\.yaml:\d+:\d+ {2}phases\[2\]\.steps\[0\]\.tool: unknown tool "k8s\.cordn" \(did you mean "k8s\.cordon"\?\)$/,
    );
    expect(err.at(-1)).toBe('1 problem(s) in 1 of 1 file(s)');
  });

  it('validate reports every fixture problem in one run', async () => {
    const { io, out } = capture(ROOT);
    expect(await main(['node', 'runbook', 'validate', 'test/fixtures/runbooks/invalid'], io)).toBe(1);
    expect(out.length).toBeGreaterThan(30);
    for (const line of out)
      expect(line).toMatch(/^test\/fixtures\/runbooks\/invalid\/[a-z-]+\.yaml(:\d+:\d+)? {2}/);
  });

  it('validate names a path that does not exist', async () => {
    const { io, out } = capture(workspace);
    expect(await main(['node', 'runbook', 'validate', 'nowhere'], io)).toBe(1);
    expect(out[0]).toMatch(/nowhere {2}no such file or directory$/);
  });

  it('validate and compile take absolute paths', async () => {
    const { io, err } = capture(ROOT);
    const out = join(workspace, 'machines');
    expect(await main(['node', 'runbook', 'validate', join(workspace, 'runbooks')], io)).toBe(0);
    expect(await main(['node', 'runbook', 'compile', join(workspace, 'runbooks'), '--out', out], io)).toBe(0);
    expect(existsSync(join(out, 'node-memory-pressure.asl.json'))).toBe(true);
    expect(err.some((line) => line.startsWith('compiled '))).toBe(true);
  });

  it('hints at .0 when a [0] index breaks a YAML flow collection', async () => {
    writeFileSync(
      join(workspace, 'runbooks', 'broken.yaml'),
      'id: broken\nphases: [{ when: { fact: steps.a.output.pods[0].x } }]\n',
    );
    const { io, out } = capture(workspace);
    expect(await main(['node', 'runbook', 'validate', 'runbooks/broken.yaml'], io)).toBe(1);
    expect(out[0]).toMatch(/write a list index as \.0 instead of \[0\], or quote the value/);
  });

  it('validate flags a file whose name does not match its id', async () => {
    copyFileSync(
      join(workspace, 'runbooks', 'node-memory-pressure.yaml'),
      join(workspace, 'runbooks', 'memory.yaml'),
    );
    const { io, out } = capture(workspace);
    expect(await main(['node', 'runbook', 'validate'], io)).toBe(1);
    expect(out.join('\n')).toContain(
      'runbooks/memory.yaml:1:1  id: file name "memory.yaml" does not match id "node-memory-pressure"',
    );
    expect(out.join('\n')).toContain('runbook id "node-memory-pressure" is already used by');
  });

  it('compile writes one machine per runbook, is idempotent, and --check detects staleness', async () => {
    // Act
    const first = capture(workspace);
    expect(await main(['node', 'runbook', 'compile', '--out', 'out'], first.io)).toBe(0);
    const second = capture(workspace);
    expect(await main(['node', 'runbook', 'compile', '--out', 'out'], second.io)).toBe(0);

    // Assess
    const machine = join(workspace, 'out', 'node-memory-pressure.asl.json');
    expect(readFileSync(machine, 'utf8')).toBe(
      readFileSync(join(libraryStatemachinesDir(), 'node-memory-pressure.asl.json'), 'utf8'),
    );
    expect(second.err.every((line) => line.startsWith('unchanged '))).toBe(true);
    expect(second.err[0]).toMatch(/of 1 MB, ≤ \d+ of 25,000 history events, state ≤ [\d.]+ KB of 256 KB/);

    writeFileSync(machine, '{}\n');
    writeFileSync(join(workspace, 'out', 'gone.asl.json'), '{}\n');
    const check = capture(workspace);
    expect(await main(['node', 'runbook', 'compile', '--out', 'out', '--check'], check.io)).toBe(1);
    expect(check.out).toEqual([
      'out/node-memory-pressure.asl.json  is stale: run npm run compile',
      'out/gone.asl.json  has no runbook: run npm run compile',
    ]);

    expect(await main(['node', 'runbook', 'compile', '--out', 'out'], capture(workspace).io)).toBe(0);
    expect(existsSync(join(workspace, 'out', 'gone.asl.json'))).toBe(false);
  });

  it('compile refuses invalid runbooks and writes nothing', async () => {
    writeFileSync(join(workspace, 'runbooks', 'node-memory-pressure.yaml'), 'id: [\n');
    const { io, err } = capture(workspace);
    expect(await main(['node', 'runbook', 'compile', '--out', 'out'], io)).toBe(1);
    expect(err.at(-1)).toMatch(/^not compiled: fix the 1 problem\(s\) above first$/);
    expect(existsSync(join(workspace, 'out'))).toBe(false);
  });

  it('graph prints a Mermaid flowchart, and names the known ids for an unknown one', async () => {
    const good = capture(workspace);
    expect(await main(['node', 'runbook', 'graph', 'node-memory-pressure'], good.io)).toBe(0);
    expect(good.out.join('\n')).toMatch(/flowchart TD/);

    const bad = capture(workspace);
    expect(await main(['node', 'runbook', 'graph', 'nope'], bad.io)).toBe(1);
    expect(bad.err[0]).toMatch(/^runbook: no runbook "nope" in runbooks\/; known: .*node-memory-pressure/);
  });

  it('schema --check fails on a stale schema and passes after writing it', async () => {
    writeFileSync(join(workspace, 'runbooks', 'schema.json'), '{}\n');
    expect(await main(['node', 'runbook', 'schema', '--check'], capture(workspace).io)).toBe(1);
    expect(await main(['node', 'runbook', 'schema'], capture(workspace).io)).toBe(0);
    expect(await main(['node', 'runbook', 'schema', '--check'], capture(workspace).io)).toBe(0);
  });

  it('lists the demo command in --help, with its options in demo --help', async () => {
    // Act
    const top = capture(workspace);
    const topCode = await main(['node', 'runbook', '--help'], top.io);
    const demo = capture(workspace);
    const demoCode = await main(['node', 'runbook', 'demo', '--help'], demo.io);

    // Assess
    expect(topCode).toBe(0);
    expect(top.out.join('\n')).toMatch(
      /^\s+demo \[options\]\s+the whole loop against a simulated environment/m,
    );
    expect(demoCode).toBe(0);
    const help = demo.out.join('\n');
    for (const option of [
      '--port <port>',
      '--data <dir>',
      '--auto-approve',
      '--wait-scale <factor>',
      '--scenario <name>',
      '--list-scenarios',
      '--runbooks <dir>',
      '--monitoring <mode>',
    ])
      expect(help).toContain(option);
    expect(help).toContain('(default: "0.1")');
    expect(help).toContain('(default: ".runbook/demo")');
  });

  it.each(['0', '1.5', '-1', 'fast', ''])(
    'refuses demo --wait-scale "%s" with exit code 2 before starting anything',
    async (factor) => {
      // Act
      const { io, out, err } = capture(workspace);
      const code = await main(['node', 'runbook', 'demo', '--wait-scale', factor, '--data', 'demo-data'], io);

      // Assess
      expect(code).toBe(2);
      expect(err).toEqual([
        `runbook: --wait-scale must be a number greater than 0 and at most 1 (0.1 shortens every runbook wait to a tenth, 1 waits in full), got "${factor}"`,
      ]);
      expect(out).toEqual([]);
      expect(existsSync(join(workspace, 'demo-data'))).toBe(false);
    },
  );

  it('lists the scenarios with their alert and runbook, the default set marked', async () => {
    // Act
    const { io, out } = capture(workspace);
    const code = await main(['node', 'runbook', 'demo', '--list-scenarios'], io);

    // Assess
    expect(code).toBe(0);
    expect(out[0]).toMatch(/^scenarios \(runbook demo --scenario NAME/);
    expect(out.join('\n')).toMatch(/^ {2}\* crash-loop +KubePodCrashLooping → pod-crash-looping: /m);
    expect(out.join('\n')).toMatch(
      /^ {2}\* disk-filling +NodeFilesystemSpaceFillingUp → node-filesystem-filling: /m,
    );
    // Scenarios outside the default set are listed unmarked
    expect(out.join('\n')).toMatch(/^ {4}target-down +TargetDown → target-down: /m);
    expect(out.join('\n')).toMatch(
      /^ {3} lambda-errors +CloudWatch alarm checkout-api-errors → lambda-errors: /m,
    );
  });

  it('refuses two --scenario that break the same resource with exit code 2, before starting anything', async () => {
    // Act
    const { io, out, err } = capture(workspace);
    const code = await main(
      ['node', 'runbook', 'demo', '--scenario', 'rds-cpu,rds-free-storage', '--data', 'demo-data'],
      io,
    );

    // Assess
    expect(code).toBe(2);
    expect(err).toEqual([
      "runbook: --scenario: scenarios rds-cpu and rds-free-storage both break rds:orders-db, so one would undo the other's story; run them one at a time",
    ]);
    expect(out).toEqual([]);
    expect(existsSync(join(workspace, 'demo-data'))).toBe(false);
  });

  it('refuses an unknown --scenario with exit code 2, naming the known ones, before starting anything', async () => {
    // Act
    const { io, out, err } = capture(workspace);
    const code = await main(
      ['node', 'runbook', 'demo', '--scenario', 'crash-loop,disk-full', '--data', 'demo-data'],
      io,
    );

    // Assess
    expect(code).toBe(2);
    expect(err).toEqual([
      `runbook: --scenario: unknown scenario "disk-full"; the scenarios are ${SCENARIOS.map((scenario) => scenario.id).join(', ')} (runbook demo --list-scenarios describes them)`,
    ]);
    expect(out).toEqual([]);
    expect(existsSync(join(workspace, 'demo-data'))).toBe(false);
  });

  it('lists --allowed-host in serve --help, and refuses a value that is not a host name with exit code 2', async () => {
    // Act
    const help = capture(workspace);
    const helpCode = await main(['node', 'runbook', 'serve', '--help'], help.io);
    const bad = capture(workspace);
    const badCode = await main(
      ['node', 'runbook', 'serve', '--allowed-host', 'evil host/', '--data', 'serve-data', '--port', '0'],
      bad.io,
    );

    // Assess
    expect(helpCode).toBe(0);
    expect(help.out.join('\n')).toContain('--allowed-host <name>');
    expect(badCode).toBe(2);
    expect(bad.err).toEqual([
      'runbook: --allowed-host takes a host name, optionally with a port (runbook.internal, localhost:9000), got "evil host/"',
    ]);
    expect(existsSync(join(workspace, 'serve-data'))).toBe(false);
  });

  describe('match', () => {
    const fixture = (name: string) => join(ROOT, 'test/fixtures/alerts', name);

    it('names the runbook an Alertmanager alert would start, and why each other would not', async () => {
      const { io, out } = capture(workspace);
      const code = await main(
        ['node', 'runbook', 'match', join(ROOT, 'local/examples/alertmanager-node-memory-pressure.json')],
        io,
      );
      expect(code).toBe(0);
      expect(out[0]).toMatch(/^KubeNodePressure \(prometheus, firing, info, environment \w+, k8s-node /);
      expect(out[1]).toMatch(
        /✓ node-memory-pressure +selected: rule kube-node-memory-pressure matched: confidence 0\.95 × learned 1\.00 = 0\.95/,
      );
      expect(out.filter((line) => line.includes('no-rule-matched'))).toHaveLength(5);
    });

    it('takes a CloudWatch alarm event as EventBridge delivers it, and prints JSON with --json', async () => {
      const { io, out } = capture(workspace);
      const code = await main(
        ['node', 'runbook', 'match', fixture('cloudwatch-alarm-alb-5xx.json'), '--json', '--env', 'prod'],
        io,
      );
      expect(code).toBe(0);
      const [result] = JSON.parse(out.join('\n')) as Array<{
        alert: { source: string; name: string; resource: { type: string } };
        selection: { selected?: { runbookId: string; rule: string } };
      }>;
      expect(result!.alert).toMatchObject({ source: 'cloudwatch', resource: { type: 'target-group' } });
      expect(result!.selection.selected).toMatchObject({
        runbookId: 'alb-target-5xx',
        rule: 'storefront-target-5xx-alarm',
      });
    });

    it('exits 1 when a firing alert would start nothing (usable in CI)', async () => {
      // Prepare: an alert no shipped runbook covers
      const body = JSON.parse(
        readFileSync(join(ROOT, 'local/examples/alertmanager-node-memory-pressure.json'), 'utf8'),
      );
      body.alerts[0].labels.alertname = 'KafkaConsumerLagHigh';
      body.commonLabels.alertname = 'KafkaConsumerLagHigh';
      writeFileSync(join(workspace, 'lag.json'), JSON.stringify(body));

      // Act
      const { io, out } = capture(workspace);
      const code = await main(['node', 'runbook', 'match', 'lag.json'], io);

      // Assess
      expect(code).toBe(1);
      expect(out.at(-1)).toBe('  no runbook would start: it would be recorded as unmatched');
    });

    it('names the file and the field of a malformed payload, without a stack trace', async () => {
      const { io, out, err } = capture(workspace);
      const code = await main(
        ['node', 'runbook', 'match', fixture('malformed/alertmanager-missing-alertname.json')],
        io,
      );
      expect(code).toBe(1);
      expect(out).toEqual([]);
      expect(err).toEqual([
        expect.stringMatching(
          /^runbook: .*alertmanager-missing-alertname\.json: invalid Alertmanager webhook body: alerts\[1\]\.labels\.alertname: expected an alertname label/,
        ),
      ]);
    });

    it('refuses what is not an alert payload, and a file that is not JSON', async () => {
      writeFileSync(join(workspace, 'broken.json'), '{ "alerts": [');
      const cases: Array<[string, RegExp]> = [
        [fixture('stepfunctions-status-change.json'), /only CloudWatch alarm state changes/],
        [join(ROOT, 'package.json'), /neither an Alertmanager webhook body .* nor an EventBridge event/],
        ['broken.json', /^runbook: broken\.json: not JSON: /],
        ['missing.json', /^runbook: missing\.json: no such file$/],
      ];
      for (const [file, message] of cases) {
        const { io, err } = capture(workspace);
        expect(await main(['node', 'runbook', 'match', file], io), file).toBe(1);
        expect(err.join('\n'), file).toMatch(message);
      }
    });
  });

  describe('rbac', () => {
    const deployed = () => {
      const runbooks = loadCompiledRunbooks(libraryStatemachinesDir());
      return rbacManifest(
        {
          readOnly: runbooks.flatMap((runbook) => runbook.tools[Substitution.ReadOnlyRunner]),
          mutating: runbooks.flatMap((runbook) => runbook.tools[Substitution.MutatingRunner]),
        },
        TOOL_CATALOG,
      );
    };

    it('prints the four RBAC documents for kubectl apply -f - and exits 0', async () => {
      // Act
      const { io, out, err } = capture(workspace);
      const code = await main(['node', 'runbook', 'rbac'], io);

      // Assess: the RBAC of the tools the deployed machines (statemachines/) run, and nothing else on stdout
      expect(code).toBe(0);
      expect(err).toEqual([]);
      const text = `${out.join('\n')}\n`;
      expect(text).toBe(deployed());
      const documents = parseAllDocuments(text);
      expect(documents.map((document) => document.errors)).toEqual([[], [], [], []]);
      expect(
        documents.map((document) => document.toJS() as { kind: string; metadata: { name: string } }),
      ).toEqual([
        expect.objectContaining({
          kind: 'ClusterRole',
          metadata: expect.objectContaining({ name: 'runbook-autopilot-read' }),
        }),
        expect.objectContaining({
          kind: 'ClusterRoleBinding',
          metadata: expect.objectContaining({ name: 'runbook-autopilot-read' }),
        }),
        expect.objectContaining({
          kind: 'ClusterRole',
          metadata: expect.objectContaining({ name: 'runbook-autopilot-change' }),
        }),
        expect.objectContaining({
          kind: 'ClusterRoleBinding',
          metadata: expect.objectContaining({ name: 'runbook-autopilot-change' }),
        }),
      ]);
    });

    it('follows the runbooks of --runbooks: fewer Kubernetes tools, fewer rules', async () => {
      // Prepare: only the runbooks that run no Kubernetes tool
      const only = join(workspace, 'aws-only');
      mkdirSync(only);
      for (const id of ['ec2-status-check-failed', 'lambda-throttling'])
        copyFileSync(join(workspace, 'runbooks', `${id}.yaml`), join(only, `${id}.yaml`));

      // Act
      const { io, out } = capture(workspace);
      const code = await main(['node', 'runbook', 'rbac', '--runbooks', 'aws-only'], io);

      // Assess
      expect(code).toBe(0);
      const roles = parseAllDocuments(out.join('\n')).map(
        (document) => document.toJS() as { rules?: unknown[] },
      );
      expect(roles).toHaveLength(4);
      expect(roles[0]!.rules).toEqual([]);
      expect(roles[2]!.rules).toEqual([]);
    });

    it('warns on stderr when statemachines/ is stale, and still prints the manifest', async () => {
      // Prepare: the fixture library's machines (runbooks/ and statemachines/ belong to the team)
      cpSync(libraryStatemachinesDir(), join(workspace, 'statemachines'), { recursive: true });
      writeFileSync(join(workspace, 'statemachines', 'pod-crash-looping.asl.json'), '{}\n');

      // Act
      const { io, out, err } = capture(workspace);
      const code = await main(['node', 'runbook', 'rbac'], io);

      // Assess
      expect(code).toBe(0);
      expect(err).toEqual([
        'runbook: warning: statemachines/pod-crash-looping.asl.json is stale: this RBAC follows runbooks/, the deployed stack follows statemachines/ (run npm run compile, then deploy)',
      ]);
      expect(`${out.join('\n')}\n`).toBe(deployed());
    });

    it('prints nothing on stdout and exits 1, in one line each, for an invalid runbook or a missing directory', async () => {
      // Prepare
      const broken = join(workspace, 'runbooks', 'node-memory-pressure.yaml');
      writeFileSync(broken, readFileSync(broken, 'utf8').replace('tool: k8s.cordon', 'tool: k8s.cordn'));

      // Act
      const invalid = capture(workspace);
      const invalidCode = await main(['node', 'runbook', 'rbac'], invalid.io);
      const missing = capture(workspace);
      const missingCode = await main(['node', 'runbook', 'rbac', '--runbooks', 'nope'], missing.io);

      // Assess
      expect(invalidCode).toBe(1);
      expect(invalid.out).toEqual([]);
      expect(invalid.err[0]).toMatch(/^runbooks\/node-memory-pressure\.yaml:\d+:\d+ .*k8s\.cordn/);
      expect(invalid.err.at(-1)).toMatch(/^runbook: no RBAC printed: fix the \d+ problem\(s\) above first$/);
      expect(missingCode).toBe(1);
      expect(missing.out).toEqual([]);
      expect(missing.err).toEqual(['runbook: no runbooks directory nope']);
    });
  });

  it('answers an unknown command with a suggestion and exit code 2', async () => {
    const { io, err } = capture(workspace);
    expect(await main(['node', 'runbook', 'validat'], io)).toBe(2);
    expect(err.join('\n')).toMatch(/unknown command 'validat'.*\n?.*Did you mean validate\?/s);
  });

  it('ends quietly when the reader closes the pipe early, as `| head` does (the real binary)', async () => {
    // Prepare: 400 alerts, about 400 KB of lines, far more than a pipe holds
    const body = JSON.parse(
      readFileSync(join(ROOT, 'local/examples/alertmanager-node-memory-pressure.json'), 'utf8'),
    );
    body.alerts = Array.from({ length: 400 }, (_, index) => ({
      ...body.alerts[0],
      labels: { ...body.alerts[0].labels, node: `ip-10-0-${Math.floor(index / 250)}-${index % 250}` },
      fingerprint: index.toString(16).padStart(16, '0'),
    }));
    writeFileSync(join(workspace, 'many.json'), JSON.stringify(body));
    const child = spawn(process.execPath, [join(ROOT, 'local/bin/runbook.js'), 'match', 'many.json'], {
      cwd: workspace,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });

    // Act: read the first chunk, then close the pipe while the command still writes
    await new Promise((resolve) => child.stdout.once('data', resolve));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));

    // Assess
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('never shows a stack trace, even for a bad cdk.json (the real binary)', async () => {
    // Prepare
    writeFileSync(
      join(workspace, 'cdk.json'),
      '{ "context": { "runbook-autopilot:environments": { "prod": { "policy": { "approval": { "requiredFromRisk": "extreme" } } } } } }',
    );
    mkdirSync(join(workspace, 'node_modules'), { recursive: true });

    // Act
    const result = await run(process.execPath, [join(ROOT, 'local/bin/runbook.js'), 'validate'], {
      cwd: workspace,
    }).catch((error: { code: number; stdout: string; stderr: string }) => error);

    // Assess
    expect('code' in result ? result.code : 0).toBe(1);
    expect(result.stderr).toMatch(
      /cdk\.json: context\.runbook-autopilot:environments\.prod\.policy\.approval\.requiredFromRisk: must be one of/,
    );
    expect(result.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });
});
