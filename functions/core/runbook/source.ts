import { isMap, isScalar, isSeq, LineCounter, type Node, parseAllDocuments } from 'yaml';
import type { Problem } from '../errors.ts';

/** Runbook files larger than this are refused before parsing (the definition budget is 1 MB anyway). */
export const MAX_RUNBOOK_BYTES = 1024 * 1024;

// In a module of its own: the Lambdas format paths without bundling the YAML parser.
export { formatPath, type PathSegment } from './path.ts';

import type { PathSegment } from './path.ts';

export interface ParsedSource {
  /** The plain data, when the text is one YAML document without errors. */
  value: unknown;
  problems: Problem[];
  /** 1-based line/column of the node at `path`, or of its nearest ancestor that exists. */
  locate(path: readonly PathSegment[]): { line: number; column: number } | undefined;
}

function describeSize(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

/**
 * Parses a runbook file's text into data, keeping positions. Never throws: empty files, binary junk,
 * oversized files, YAML syntax errors and multi-document files all come back as problems.
 */
export function parseRunbookSource(text: string, byteLength = Buffer.byteLength(text)): ParsedSource {
  const none = (problem: Omit<Problem, 'check'>): ParsedSource => ({
    value: undefined,
    problems: [{ check: 'yaml', ...problem }],
    locate: () => undefined,
  });

  if (byteLength > MAX_RUNBOOK_BYTES) {
    return none({
      path: '',
      message: `file is ${describeSize(byteLength)}; a runbook must be under ${describeSize(MAX_RUNBOOK_BYTES)}`,
    });
  }
  if (text.includes('\u0000')) {
    return none({ path: '', message: 'file is binary, not YAML text', line: 1, column: 1 });
  }
  if (text.trim() === '' || /^(\s*(#.*)?\n?)*$/.test(text)) {
    return none({
      path: '',
      message: 'file is empty: a runbook needs at least id, name, version, phases',
      line: 1,
      column: 1,
    });
  }

  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const position = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  if (!Array.isArray(documents)) {
    return none({ path: '', message: 'file holds no YAML document', line: 1, column: 1 });
  }
  const problems: Problem[] = [];
  // One syntax error usually sets off a cascade; the first is the one to fix.
  const errors = documents.flatMap((document) => document.errors);
  const [firstError] = errors;
  if (firstError) {
    const more =
      errors.length > 1 ? ` (${errors.length - 1} more YAML error(s) follow from it or after it)` : '';
    const flowIndex = /flow-seq|flow map|flow sequence/i.test(firstError.message)
      ? '; inside { } or [ ], write a list index as .0 instead of [0], or quote the value'
      : '';
    problems.push({
      check: 'yaml',
      path: '',
      message: `YAML syntax: ${firstError.message.split('\n')[0]}${flowIndex}${more}`,
      ...position(firstError.pos[0]),
    });
  }
  if (documents.length > 1) {
    const second = documents[1];
    problems.push({
      check: 'yaml',
      path: '',
      message: `file holds ${documents.length} YAML documents; a runbook file holds exactly one`,
      ...position(second?.range[0] ?? 0),
    });
  }
  const document = documents[0];
  if (problems.length > 0 || !document) return { value: undefined, problems, locate: () => undefined };

  const root = document.contents;
  if (!isMap(root)) {
    return {
      value: undefined,
      problems: [
        {
          check: 'yaml',
          path: '',
          message: 'a runbook is a YAML mapping (id: …, name: …), not a list or a single value',
          ...position(root?.range?.[0] ?? 0),
        },
      ],
      locate: () => undefined,
    };
  }

  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    return none({ path: '', message: `YAML: ${(error as Error).message}`, line: 1, column: 1 });
  }

  const locate = (path: readonly PathSegment[]) => {
    let node: Node | null | undefined = root;
    let found = root.range ? position(root.range[0]) : undefined;
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find(
          (item) => isScalar(item.key) && String(item.key.value) === String(segment),
        );
        if (!pair) break;
        const key = pair.key as Node;
        if (key.range) found = position(key.range[0]);
        node = pair.value as Node | null;
        // A value on its own line is better located by its key; a scalar value by itself.
        if (isScalar(node) && node.range) found = position(node.range[0]);
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment] as Node | undefined;
        if (!item) break;
        node = item;
        if (item.range) found = position(item.range[0]);
      } else {
        break;
      }
    }
    return found;
  };

  return { value, problems: [], locate };
}
