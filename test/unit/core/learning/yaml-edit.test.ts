import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { diffLines } from 'diff';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import {
  applyEdit,
  type RunbookEdit,
  RunbookEditError,
} from '../../../../functions/core/learning/suggestions/yaml-edit.ts';
import { LIBRARY_RUNBOOKS_DIR } from '../../../support/library.ts';
import { ROOT } from '../../../support/runbooks.ts';

const LIBRARY = readdirSync(join(ROOT, LIBRARY_RUNBOOKS_DIR))
  .filter((file) => file.endsWith('.yaml'))
  .map((file) => ({ file, text: readFileSync(join(ROOT, LIBRARY_RUNBOOKS_DIR, file), 'utf8') }));

/** Lines the edit took out and put in, by line-level diff of the two texts. */
function lineChanges(before: string, after: string): { removed: string[]; added: string[] } {
  const removed: string[] = [];
  const added: string[] = [];
  for (const part of diffLines(before, after)) {
    const lines = part.value.replace(/\n$/, '').split('\n');
    if (part.removed) removed.push(...lines);
    if (part.added) added.push(...lines);
  }
  return { removed, added };
}

interface PhaseData {
  steps: Array<Record<string, unknown>>;
}

function phasesOf(text: string): PhaseData[] {
  return (parseDocument(text).toJS() as { phases: PhaseData[] }).phases;
}

describe('runbook edits in place', () => {
  it('replaces a scalar and nothing else, in every runbook of the library', () => {
    for (const { file, text } of LIBRARY) {
      // Act
      const edited = applyEdit(text, { op: 'set', path: ['version'], value: '9.9.9' });

      // Assess
      const changes = lineChanges(text, edited);
      expect(changes.removed, file).toHaveLength(1);
      expect(changes.added, file).toEqual([changes.removed[0]!.replace(/version: \S+/, 'version: 9.9.9')]);
    }
  });

  it('adds a key as one new line at the map’s indentation, every other line kept byte for byte', () => {
    for (const { file, text } of LIBRARY) {
      phasesOf(text).forEach((phase, phaseIndex) => {
        phase.steps.forEach((step, stepIndex) => {
          if (step.compensation !== undefined) return;
          // Act
          const edited = applyEdit(text, {
            op: 'set',
            path: ['phases', phaseIndex, 'steps', stepIndex, 'compensation'],
            value: 'auto',
            after: ['onFailure', 'retry', 'timeout'],
          });

          // Assess
          const changes = lineChanges(text, edited);
          expect(changes.removed, `${file} ${step.id}`).toEqual([]);
          expect(changes.added, `${file} ${step.id}`).toHaveLength(1);
          expect(changes.added[0]).toMatch(/^ +compensation: auto$/);
        });
      });
    }
  });

  it('removes a step with its own lines only', () => {
    for (const { file, text } of LIBRARY) {
      phasesOf(text).forEach((phase, phaseIndex) => {
        if (phase.steps.length < 2) return;
        phase.steps.forEach((step, stepIndex) => {
          // Act
          const edited = applyEdit(text, { op: 'remove', path: ['phases', phaseIndex, 'steps', stepIndex] });

          // Assess: lines only go, and the step's id line is among them
          const changes = lineChanges(text, edited);
          expect(changes.added, `${file} ${step.id}`).toEqual([]);
          expect(changes.removed.some((line) => line.trim() === `- id: ${step.id}`)).toBe(true);
          expect(phasesOf(edited)[phaseIndex]!.steps.map((kept) => kept.id)).toEqual(
            phase.steps.filter((_, index) => index !== stepIndex).map((kept) => kept.id),
          );
        });
      });
    }
  });

  it('reorders steps by moving their lines, comments with them, and keeps every line', () => {
    for (const { file, text } of LIBRARY) {
      phasesOf(text).forEach((phase, phaseIndex) => {
        if (phase.steps.length < 2) return;
        const order = phase.steps.map((_, index) => phase.steps.length - 1 - index);

        // Act
        const edited = applyEdit(text, { op: 'reorder', path: ['phases', phaseIndex, 'steps'], order });

        // Assess
        expect([...edited.split('\n')].sort(), file).toEqual([...text.split('\n')].sort());
        expect(phasesOf(edited)[phaseIndex]!.steps.map((step) => step.id)).toEqual(
          order.map((index) => phase.steps[index]!.id),
        );
      });
    }
  });

  it('keeps a comment above a step with the step, and the quoting of a value it replaces', () => {
    // Prepare
    const text = [
      'steps:',
      '  # the first',
      '  - id: a',
      "    name: 'first'",
      '',
      '  # the second',
      '  - id: b',
      '    name: "second" # keep me',
      '',
    ].join('\n');

    // Act
    const reordered = applyEdit(text, { op: 'reorder', path: ['steps'], order: [1, 0] });
    const renamed = applyEdit(text, { op: 'set', path: ['steps', 1, 'name'], value: 'zweite' });
    const renamedSingle = applyEdit(text, { op: 'set', path: ['steps', 0, 'name'], value: "it's" });
    const removed = applyEdit(text, { op: 'remove', path: ['steps', 0] });

    // Assess
    expect(reordered).toBe(
      [
        'steps:',
        '  # the second',
        '  - id: b',
        '    name: "second" # keep me',
        '',
        '  # the first',
        '  - id: a',
        "    name: 'first'",
        '',
      ].join('\n'),
    );
    expect(renamed).toContain('    name: "zweite" # keep me\n');
    expect(renamedSingle).toContain("    name: 'it''s'\n");
    expect(removed).toBe(
      ['steps:', '  # the second', '  - id: b', '    name: "second" # keep me', ''].join('\n'),
    );
  });

  it('refuses what it cannot do in place, saying where', () => {
    // Prepare
    const text = 'a: [x, y]\nb:\n  - only\nc: >-\n  folded\n  text\n';
    const attempts: RunbookEdit[] = [
      { op: 'remove', path: ['a', 0] },
      { op: 'remove', path: ['b', 0] },
      { op: 'set', path: ['c'], value: 'plain' },
      { op: 'reorder', path: ['b'], order: [1] },
    ];

    // Act and assess
    for (const edit of attempts) expect(() => applyEdit(text, edit)).toThrow(RunbookEditError);
    expect(() => applyEdit(text, attempts[0]!)).toThrow(
      /^a: written as \[ … \]; only a sequence with one "- " item per line is edited in place$/,
    );
    expect(() => applyEdit(text, attempts[1]!)).toThrow(/^b\[0\]: the only item of its sequence$/);
  });
});
