import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ToolDeclaration } from '../../../functions/core/tool-catalog.ts';
import { TOOL_DECLARATIONS } from '../../../functions/tools/declarations.ts';
import {
  spliceToolReference,
  TOOL_REFERENCE_BEGIN,
  TOOL_REFERENCE_END,
  toolReferenceMarkdown,
} from '../../../functions/tools/reference.ts';

function rowOf(markdown: string, tool: string): string[] {
  const row = markdown.split('\n').find((line) => line.startsWith(`| \`${tool}\` |`));
  if (!row) throw new Error(`no row for ${tool}`);
  // Split on unescaped pipes only.
  return row
    .slice(2, -2)
    .split(/(?<!\\) \| /)
    .map((cell) => cell.trim());
}

describe('toolReferenceMarkdown', () => {
  const markdown = toolReferenceMarkdown(TOOL_DECLARATIONS);

  it('is one table between the markers with a row per tool, in declaration order', () => {
    // Assess
    const lines = markdown.split('\n');
    expect(lines[0]).toBe(TOOL_REFERENCE_BEGIN);
    expect(lines.at(-1)).toBe(TOOL_REFERENCE_END);
    expect(lines[2]).toBe(
      '| Tool | What it does | Parameters | Output | Mutating | Risk | Dry run | Needs | Inverse for `compensation: auto` |',
    );
    const tools = lines
      .filter((line) => line.startsWith('| `'))
      .map((line) => /^\| `([^`]+)`/.exec(line)?.[1]);
    expect(tools).toEqual(TOOL_DECLARATIONS.map((declaration) => declaration.name));
    for (const line of lines.filter((candidate) => candidate.startsWith('| `')))
      expect(line.split(/(?<!\\)\|/).length).toBe(11);
  });

  it('is deterministic', () => {
    // Assess
    expect(toolReferenceMarkdown(TOOL_DECLARATIONS)).toBe(markdown);
    expect(toolReferenceMarkdown([...TOOL_DECLARATIONS])).toBe(markdown);
  });

  it('describes parameters with types, limits, defaults and descriptions', () => {
    // Act
    const [, , parameters] = rowOf(markdown, 'http.check');
    const [, , scale] = rowOf(markdown, 'k8s.scale');
    const [, , restore] = rowOf(markdown, 'lambda.restore-reserved-concurrency');

    // Assess
    expect(parameters!.split('<br>')).toEqual([
      '`url` URL, required',
      '`method` one of GET, HEAD, default `"GET"`',
      '`expectStatus` list of integer 100–599 (at least 1 item), default `[200]`',
      '`maxLatencyMs` integer 1–60000, optional',
      '`bodyContains` string, optional',
      '`timeoutMs` integer 100–60000, default `5000`',
    ]);
    expect(scale).toContain(
      '`cluster` string, optional: cluster name (tools.kubernetes.contexts or .eks) or kubeconfig context; default: the environment’s cluster',
    );
    expect(restore).toContain('`reservedConcurrency` integer 0–100000 or null, required');
  });

  it('shows mutating, risk, dry run, permissions and the inverse', () => {
    // Act
    const cordon = rowOf(markdown, 'k8s.cordon');
    const metric = rowOf(markdown, 'cloudwatch.get-metric-data');
    const shell = rowOf(markdown, 'shell.exec');
    const reboot = rowOf(markdown, 'ec2.reboot-instances');

    // Assess
    expect(cordon.slice(4)).toEqual([
      'yes; touches one node, named by the parameters; once per execution and step: a cordoned node stays cordoned',
      'medium',
      'sends the patch with dryRun=All: the API server validates it and persists nothing',
      'Kubernetes `get, patch` nodes',
      '`k8s.uncordon` with `node: {{ parameters.node }}`: makes the node schedulable again (unless it was cordoned before the runbook)',
    ]);
    expect(metric.slice(4)).toEqual([
      'no',
      'low',
      'reads the metric (read-only tools run for real in dry-run)',
      'IAM `cloudwatch:GetMetricData`',
      '—',
    ]);
    expect(shell[1]).toMatch(/Runs only in the local runtime\.$/);
    expect(shell[7]).toBe('runs a local process (embedded platform only)');
    expect(reboot[8]).toBe('none: the step needs its own `compensation` or an approval');
    expect(reboot[4]).toBe(
      'yes; touches one instance per entry of instanceIds; a resume after an interruption asks first: RebootInstances takes no idempotency token: a second run reboots again',
    );
  });

  it('says, for every mutating tool, what running it again after an interruption does', () => {
    // Assess
    const silent = TOOL_DECLARATIONS.filter(
      (declaration: ToolDeclaration) => declaration.mutating && !declaration.onRepeat,
    ).map((declaration) => declaration.name);
    expect(silent).toEqual([]);
    for (const declaration of TOOL_DECLARATIONS as readonly ToolDeclaration[])
      if (declaration.inspectWith)
        expect(
          TOOL_DECLARATIONS.find((other) => other.name === declaration.inspectWith!.tool)?.mutating,
        ).toBe(false);
  });

  it('keeps a table cell on one line and escapes pipes', () => {
    // Prepare
    const odd: ToolDeclaration = {
      name: 'test.odd',
      description: 'Splits a|b\nacross lines',
      parameters: z.object({ pattern: z.string().default('a|b').describe('regex, e.g. x|y') }).strict(),
      output: z.object({ matched: z.boolean() }),
      mutating: false,
      risk: 'low',
      dryRun: 'runs',
      permissions: {},
    };

    // Act
    const text = toolReferenceMarkdown([odd]);

    // Assess
    const row = text.split('\n').find((line) => line.startsWith('| `test.odd`'));
    expect(row).toBe(
      '| `test.odd` | Splits a\\|b across lines | `pattern` string, default `"a\\|b"`: regex, e.g. x\\|y | `matched` boolean | no | low | runs | nothing | — |',
    );
  });
});

describe('outputs in the tool reference', () => {
  const markdown = toolReferenceMarkdown(TOOL_DECLARATIONS);

  it('lists every tool’s top-level output fields with their types and descriptions', () => {
    // Act
    const [, , , scale] = rowOf(markdown, 'k8s.scale');
    const [, , , alertExpression] = rowOf(markdown, 'prometheus.alert-expression');

    // Assess
    expect(scale!.split('<br>')).toEqual([
      '`kind` one of Deployment, StatefulSet',
      '`name` string',
      '`namespace` string',
      '`previousReplicas` number',
      '`replicas` number',
      '`changed` boolean: false when the workload already had that many replicas',
      '`dryRun` boolean: true when the change was only checked, not made',
    ]);
    expect(alertExpression).toContain('`holdsNow` boolean: the expression returns at least one series now');
    for (const declaration of TOOL_DECLARATIONS) expect(rowOf(markdown, declaration.name)[3]).not.toBe('');
  });

  it('summarises nested objects and lists by their fields, and says what may be null or absent', () => {
    // Prepare
    const nested: ToolDeclaration = {
      name: 'test.nested',
      description: 'Nested output',
      parameters: z.object({}).strict(),
      output: z.object({
        owner: z.object({ kind: z.string(), name: z.string() }).nullable().describe('who owns it'),
        pods: z.array(
          z.object({
            a: z.string(),
            b: z.number(),
            c: z.number(),
            d: z.number(),
            e: z.number(),
            f: z.number(),
            g: z.number(),
            h: z.number(),
            i: z.number(),
          }),
        ),
        byReason: z.record(z.string(), z.number()),
        when: z.string().nullable(),
        extra: z.boolean().optional(),
      }),
      mutating: false,
      risk: 'low',
      dryRun: 'runs',
      permissions: {},
    };

    // Act
    const [, , , output] = rowOf(toolReferenceMarkdown([nested]), 'test.nested');

    // Assess
    expect(output!.split('<br>')).toEqual([
      '`owner` object {kind, name} or null: who owns it',
      '`pods` list of object {a, b, c, d, e, f, g, h, …}',
      '`byReason` map of string to number',
      '`when` string or null',
      '`extra` boolean, optional',
    ]);
  });
});

describe('spliceToolReference', () => {
  it('replaces the section between the markers and leaves the rest', () => {
    // Prepare
    const readme = `# Title\n\n## Tools\n\n${TOOL_REFERENCE_BEGIN}\nstale\n${TOOL_REFERENCE_END}\n\n## Next\n`;

    // Act
    const updated = spliceToolReference(readme, toolReferenceMarkdown(TOOL_DECLARATIONS));

    // Assess
    expect(updated.startsWith('# Title\n\n## Tools\n\n')).toBe(true);
    expect(updated.endsWith(`${TOOL_REFERENCE_END}\n\n## Next\n`)).toBe(true);
    expect(updated).not.toContain('stale');
    expect(spliceToolReference(updated, toolReferenceMarkdown(TOOL_DECLARATIONS))).toBe(updated);
  });

  it('says what to add when the markers are missing', () => {
    // Assess
    expect(() => spliceToolReference('# Title\n', 'x')).toThrow(/README has no tool reference section/);
  });
});
