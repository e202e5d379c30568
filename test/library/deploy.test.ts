import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { STATEMACHINES_CONTEXT_KEY } from '../../infra/stacks/deployment.ts';
import { main } from '../../local/cli.ts';
import { removeOutput, runNag, type Synthesized, synthesize } from '../infra/support.ts';
import { exampleProblems, loadRunbookDirectory, staleMachineProblem } from '../support/runbook-checks.ts';
import { ROOT } from '../support/runbooks.ts';

/**
 * runbooks/ deploys: every environment of cdk.json synthesizes with the committed statemachines/, and
 * a runbook copied under a new id (what a team does to start one of its own) passes the per-runbook
 * checks and the synth, with nothing else changed.
 */

const temporary: string[] = [];
const synthesized: Synthesized[] = [];
afterAll(() => {
  for (const directory of temporary) rmSync(directory, { recursive: true, force: true });
  for (const output of synthesized) removeOutput(output);
});

function synth(statemachines: string): Synthesized {
  const output = synthesize({ context: { [STATEMACHINES_CONTEXT_KEY]: statemachines } });
  synthesized.push(output);
  return output;
}

describe('runbooks/ deploys', () => {
  it('synthesizes every environment with the committed machines, cdk-nag clean', () => {
    const { stacks } = synth(join(ROOT, 'statemachines'));
    const runbooks = readdirSync(join(ROOT, 'runbooks')).filter((file) => file.endsWith('.yaml'));
    for (const stack of stacks) {
      expect(stack.runbooks.map((runbook) => `${runbook.id}.yaml`).sort()).toEqual(runbooks.sort());
      expect(runNag(stack).violations).toEqual([]);
    }
  });
});

describe('a runbook copied under a new id', () => {
  it('passes the per-runbook checks and the synth', async () => {
    // Prepare: the first runbook of runbooks/, as a team copies it to start its own
    const source = readdirSync(join(ROOT, 'runbooks')).find((file) => file.endsWith('.yaml'))!;
    const original = source.replace(/\.yaml$/, '');
    const copy = `${original.slice(0, 40)}-copy`;
    const workspace = mkdtempSync(join(tmpdir(), 'runbook-copy-'));
    temporary.push(workspace);
    mkdirSync(join(workspace, 'runbooks'));
    cpSync(join(ROOT, 'cdk.json'), join(workspace, 'cdk.json'));
    const text = readFileSync(join(ROOT, 'runbooks', source), 'utf8').replace(
      new RegExp(`^id: ${original}$`, 'm'),
      `id: ${copy}`,
    );
    writeFileSync(join(workspace, 'runbooks', `${copy}.yaml`), text);
    const out: string[] = [];
    const io = {
      out: (line: string) => out.push(line),
      err: (line: string) => out.push(line),
      cwd: workspace,
    };

    // Act
    const compiled = await main(['node', 'runbook', 'compile', 'runbooks', '--out', 'statemachines'], io);
    const checked = loadRunbookDirectory(join(workspace, 'runbooks'));
    const { stacks } = synth(join(workspace, 'statemachines'));

    // Assess
    expect(compiled, out.join('\n')).toBe(0);
    expect(checked.map((entry) => entry.runbook.id)).toEqual([copy]);
    expect(staleMachineProblem(checked[0]!, join(workspace, 'statemachines'))).toBeUndefined();
    expect(exampleProblems(checked[0]!.runbook, [checked[0]!.runbook])).toEqual([]);
    for (const stack of stacks) expect(stack.runbooks.map((runbook) => runbook.id)).toEqual([copy]);
  });
});
