export type PathSegment = string | number;

/** Formats a path the way problems print it: `phases[1].steps[0].tool`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else
      out += `[${JSON.stringify(segment.length > 64 ? `${segment.slice(0, 40)}…(${segment.length} characters)` : segment)}]`;
  }
  return out;
}
