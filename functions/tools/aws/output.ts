/** Keeping tool outputs small: the runner trims too, but it cannot know which end of a text matters. */

/** Keeps the start of a text (descriptions, messages). */
export function keepHead(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  return `${text.slice(0, maxChars)}…[${text.length - maxChars} more chars]`;
}

/** Keeps the end of a text (command output: the last lines say how it ended). */
export function keepTail(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  return `[${text.length - maxChars} chars before]…${text.slice(text.length - maxChars)}`;
}

export function isoOrNull(date: Date | undefined): string | null {
  return date ? date.toISOString() : null;
}

/** "i-1, i-2 and 3 more" for messages. */
export function listForMessage(items: readonly string[], max = 5): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}
