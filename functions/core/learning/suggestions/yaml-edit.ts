import { isDeepStrictEqual } from 'node:util';
import {
  type Document,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type Node,
  type Pair,
  parseDocument,
  Scalar,
  stringify,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { RunbookAutopilotError } from '../../errors.ts';
import { formatPath, type PathSegment } from '../../runbook/path.ts';

/**
 * Edits to a runbook file that keep every byte they do not touch. The yaml library's Document API finds
 * the nodes (with their source ranges) and says what the edit means (`setIn`, `deleteIn`, a sequence's
 * items reordered); only the edited node's text is written, spliced into the original. Re-serializing
 * the whole document is not an option: `Document.toString()` re-folds `>-` descriptions at 80 columns
 * (it changes every runbook in runbooks/). Each edit is checked: the edited text must parse to exactly
 * what the Document API's own edit gives.
 */

export type EditValue = string | number | boolean;

export type RunbookEdit =
  /**
   * Sets a scalar: replaced in place, or a new key in its map: before the first key of `before`
   * present, else after the first of `after` present, else at the end.
   */
  | {
      op: 'set';
      path: PathSegment[];
      value: EditValue;
      before?: readonly string[];
      after?: readonly string[];
    }
  /** Removes an item of a block sequence, with the comment lines directly above it. */
  | { op: 'remove'; path: PathSegment[] }
  /** Reorders a block sequence's items: `order[i]` is the old index of the item that goes to place i. */
  | { op: 'reorder'; path: PathSegment[]; order: readonly number[] };

export class RunbookEditError extends RunbookAutopilotError {
  override readonly name = 'RunbookEditError';
}

function lineStart(text: string, position: number): number {
  return text.lastIndexOf('\n', position - 1) + 1;
}

function nextLineStart(text: string, position: number): number {
  const newline = text.indexOf('\n', position);
  return newline === -1 ? text.length : newline + 1;
}

/** Where the lines of a node end: after the newline that ends its last line (trailing comment included). */
function linesEnd(text: string, node: Node): number {
  const end = node.range![1];
  return end > 0 && text[end - 1] === '\n' ? end : nextLineStart(text, end);
}

function parse(text: string): Document {
  const document = parseDocument(text, { keepSourceTokens: false });
  if (document.errors.length > 0)
    throw new RunbookEditError(`the runbook does not parse: ${document.errors[0]!.message}`);
  return document;
}

function nodeAt(document: Document, path: readonly PathSegment[]): unknown {
  return path.length === 0 ? document.contents : document.getIn(path, true);
}

function pairOf(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((pair) => isPair(pair) && isScalar(pair.key) && pair.key.value === key) as
    | Pair
    | undefined;
}

/** A scalar as a runbook author writes it, in the quoting style of the scalar it replaces. */
function renderScalar(value: EditValue, replacing?: Scalar): string {
  if (typeof value === 'string' && replacing?.type === Scalar.QUOTE_DOUBLE) return JSON.stringify(value);
  if (typeof value === 'string' && replacing?.type === Scalar.QUOTE_SINGLE)
    return `'${value.replaceAll("'", "''")}'`;
  const text = stringify(value, { lineWidth: 0 }).trimEnd();
  if (text.includes('\n')) throw new RunbookEditError(`"${String(value)}" does not fit on one line`);
  return text;
}

interface Splice {
  start: number;
  end: number;
  text: string;
}

function setSplice(text: string, document: Document, edit: Extract<RunbookEdit, { op: 'set' }>): Splice {
  const key = edit.path.at(-1);
  const parent = nodeAt(document, edit.path.slice(0, -1));
  if (typeof key !== 'string' || !isMap(parent))
    throw new RunbookEditError(`${formatPath(edit.path)}: the parent is not a map`);
  const existing = pairOf(parent, key);
  if (existing) {
    const value = existing.value;
    if (
      !isScalar(value) ||
      value.type === Scalar.BLOCK_FOLDED ||
      value.type === Scalar.BLOCK_LITERAL ||
      !value.range
    )
      throw new RunbookEditError(`${formatPath(edit.path)}: only a one-line scalar is replaced`);
    return { start: value.range[0], end: value.range[1], text: renderScalar(edit.value, value) };
  }
  const pairs = parent.items as Pair[];
  const entry = `${key}: ${renderScalar(edit.value)}`;
  const beforeKey = parent.flow ? undefined : edit.before?.find((candidate) => pairOf(parent, candidate));
  const anchorKey = edit.after?.find((candidate) => pairOf(parent, candidate));
  const anchor = anchorKey ? pairOf(parent, anchorKey)! : pairs.at(-1);
  if (!anchor) throw new RunbookEditError(`${formatPath(edit.path)}: the map is empty`);
  if (parent.flow) {
    const at = ((anchor.value ?? anchor.key) as Node).range![1];
    return { start: at, end: at, text: `, ${entry}` };
  }
  const firstKey = pairs[0]!.key as Node;
  const indent = firstKey.range![0] - lineStart(text, firstKey.range![0]);
  const successor = beforeKey ? pairs.indexOf(pairOf(parent, beforeKey)!) : -1;
  if (successor > 0) {
    const floor = linesEnd(text, (pairs[successor - 1]!.value ?? pairs[successor - 1]!.key) as Node);
    const at = commentedLineStart(text, (pairs[successor]!.key as Node).range![0], floor);
    return { start: at, end: at, text: `${' '.repeat(indent)}${entry}\n` };
  }
  const at = linesEnd(text, (anchor.value ?? anchor.key) as Node);
  return { start: at, end: at, text: `${' '.repeat(indent)}${entry}\n` };
}

/** The start of the line at `position`, or of the comment lines right above it (not before `floor`). */
function commentedLineStart(text: string, position: number, floor: number): number {
  let start = lineStart(text, position);
  while (start > floor) {
    const previous = lineStart(text, start - 1);
    if (!/^[ \t]*#/.test(text.slice(previous, start))) break;
    start = previous;
  }
  return start;
}

/** Each item's lines (with the comment lines directly above it) as [start, end) offsets. */
function itemChunks(text: string, sequence: YAMLSeq, path: readonly PathSegment[]): Array<[number, number]> {
  if (sequence.flow)
    throw new RunbookEditError(
      `${formatPath(path)}: written as [ … ]; only a sequence with one "- " item per line is edited in place`,
    );
  const chunks: Array<[number, number]> = [];
  for (const [index, item] of sequence.items.entries()) {
    const node = item as Node;
    if (!node.range) throw new RunbookEditError(`${formatPath([...path, index])}: no source position`);
    const line = lineStart(text, node.range[0]);
    if (!/^[ \t]*-[ \t]+$/.test(text.slice(line, node.range[0])))
      throw new RunbookEditError(`${formatPath([...path, index])}: the item does not start its own line`);
    // Comment lines right above an item (no blank line between) are about that item.
    chunks.push([commentedLineStart(text, line, chunks.at(-1)?.[1] ?? 0), linesEnd(text, node)]);
  }
  return chunks;
}

function removeSplice(
  text: string,
  document: Document,
  edit: Extract<RunbookEdit, { op: 'remove' }>,
): Splice {
  const index = edit.path.at(-1);
  const sequence = nodeAt(document, edit.path.slice(0, -1));
  if (typeof index !== 'number' || !isSeq(sequence) || index >= sequence.items.length)
    throw new RunbookEditError(`${formatPath(edit.path)}: no such sequence item`);
  if (sequence.items.length === 1)
    throw new RunbookEditError(`${formatPath(edit.path)}: the only item of its sequence`);
  const chunks = itemChunks(text, sequence, edit.path.slice(0, -1));
  const [start, end] = chunks[index]!;
  // The blank lines that separated it go with it: after it, or before it when it was the last.
  const next = chunks[index + 1];
  if (next) return { start, end: next[0], text: '' };
  return { start: chunks[index - 1]![1], end, text: '' };
}

function reorderSplice(
  text: string,
  document: Document,
  edit: Extract<RunbookEdit, { op: 'reorder' }>,
): Splice {
  const sequence = nodeAt(document, edit.path);
  if (!isSeq(sequence)) throw new RunbookEditError(`${formatPath(edit.path)}: not a sequence`);
  const count = sequence.items.length;
  if (edit.order.length !== count || [...edit.order].sort((a, b) => a - b).some((old, at) => old !== at))
    throw new RunbookEditError(
      `${formatPath(edit.path)}: the order must name each of its ${count} items once`,
    );
  const chunks = itemChunks(text, sequence, edit.path);
  const start = chunks[0]![0];
  const end = chunks.at(-1)![1];
  let out = '';
  for (let place = 0; place < count; place++) {
    const [from, to] = chunks[edit.order[place]!]!;
    out += text.slice(from, to);
    if (place < count - 1) out += text.slice(chunks[place]![1], chunks[place + 1]![0]);
  }
  return { start, end, text: out };
}

/** What the edit means, done with the Document API on the parsed original. */
function intended(document: Document, edit: RunbookEdit): unknown {
  if (edit.op === 'set') document.setIn(edit.path, edit.value);
  else if (edit.op === 'remove') document.deleteIn(edit.path);
  else {
    const sequence = nodeAt(document, edit.path) as YAMLSeq;
    sequence.items = edit.order.map((old) => sequence.items[old]!);
  }
  return document.toJS();
}

/** Applies one edit to the text; throws RunbookEditError when it cannot be done in place exactly. */
export function applyEdit(text: string, edit: RunbookEdit): string {
  const document = parse(text);
  const splice =
    edit.op === 'set'
      ? setSplice(text, document, edit)
      : edit.op === 'remove'
        ? removeSplice(text, document, edit)
        : reorderSplice(text, document, edit);
  const edited = text.slice(0, splice.start) + splice.text + text.slice(splice.end);
  if (!isDeepStrictEqual(parse(edited).toJS(), intended(parse(text), edit)))
    throw new RunbookEditError(`${formatPath(edit.path)}: the edit in place would change more than it says`);
  return edited;
}

/** Applies edits in order (each to the result of the one before). */
export function applyEdits(text: string, edits: readonly RunbookEdit[]): string {
  return edits.reduce(applyEdit, text);
}

/** The plain value at a path of the file, as its author wrote it (a duration stays "30s"). */
export function sourceValue(text: string, path: readonly PathSegment[]): unknown {
  const node = nodeAt(parse(text), path);
  return isScalar(node) ? node.value : (node as { toJSON?: () => unknown } | undefined)?.toJSON?.();
}
