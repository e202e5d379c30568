import type { RunbookParameter } from './model.ts';

/**
 * The effective value of each runbook parameter: the runbook's default, then the environment's value
 * (cdk.json `runbookParameters.<runbook>.<name>`), then a tag or label on the resource
 * (`runbook-autopilot.io/<runbook>.<name>`, else `runbook-autopilot.io/<name>`), each only where the
 * parameter allows it and only if the value fits the declared type and bounds. A value that does not
 * fit is not used, and the note says why (the default or the environment's value stays).
 */

export const PARAMETER_TAG_PREFIX = 'runbook-autopilot.io/';

export type ParameterValue = string | number | boolean | string[];
/** `manual`: a person gave the value when starting the runbook by hand (it overrides the others). */
export type ParameterSource = 'default' | 'environment' | 'resource' | 'manual';

export interface SettledParameters {
  values: Record<string, ParameterValue>;
  sources: Record<string, ParameterSource>;
  /** Overrides that were refused, and why. */
  notes: string[];
}

/** The value as the declared type, or why it is not one. */
export function coerceParameter(
  name: string,
  declared: RunbookParameter,
  raw: unknown,
): { value: ParameterValue } | { problem: string } {
  const text = typeof raw === 'string' ? raw.trim() : raw;
  switch (declared.type) {
    case 'integer':
    case 'number': {
      const value =
        typeof text === 'number' ? text : typeof text === 'string' && text !== '' ? Number(text) : Number.NaN;
      if (!Number.isFinite(value) || (declared.type === 'integer' && !Number.isInteger(value)))
        return {
          problem: `${name}: ${JSON.stringify(raw)} is not ${declared.type === 'integer' ? 'an integer' : 'a number'}`,
        };
      if (declared.minimum !== undefined && value < declared.minimum)
        return { problem: `${name}: ${value} is below its minimum ${declared.minimum}` };
      if (declared.maximum !== undefined && value > declared.maximum)
        return { problem: `${name}: ${value} is above its maximum ${declared.maximum}` };
      return { value };
    }
    case 'boolean':
      if (typeof text === 'boolean') return { value: text };
      if (text === 'true' || text === 'false') return { value: text === 'true' };
      return { problem: `${name}: ${JSON.stringify(raw)} is not true or false` };
    case 'list': {
      const list = Array.isArray(text)
        ? text
        : typeof text === 'string'
          ? text
              .split(',')
              .map((item) => item.trim())
              .filter((item) => item !== '')
          : undefined;
      if (!list?.every((item) => typeof item === 'string'))
        return { problem: `${name}: ${JSON.stringify(raw)} is not a list of strings (a tag holds a,b,c)` };
      const outside = declared.allowed ? list.filter((item) => !declared.allowed!.includes(item)) : [];
      if (outside.length > 0)
        return { problem: `${name}: ${outside.join(', ')} not among ${declared.allowed!.join(', ')}` };
      return { value: list };
    }
    case 'string':
      if (typeof text !== 'string') return { problem: `${name}: ${JSON.stringify(raw)} is not a string` };
      if (declared.allowed && !declared.allowed.includes(text))
        return { problem: `${name}: "${text}" is not one of ${declared.allowed.join(', ')}` };
      return { value: text };
  }
}

export function settleParameters(
  runbookId: string,
  declared: Readonly<Record<string, RunbookParameter>>,
  environment: Readonly<Record<string, unknown>> = {},
  tags: Readonly<Record<string, string>> = {},
  manual: Readonly<Record<string, unknown>> = {},
): SettledParameters {
  const settled: SettledParameters = { values: {}, sources: {}, notes: [] };
  for (const [name, parameter] of Object.entries(declared)) {
    settled.values[name] = parameter.default;
    settled.sources[name] = 'default';
    const overrides: Array<{ source: 'environment' | 'resource'; raw: unknown; from: string }> = [];
    if (Object.hasOwn(environment, name))
      overrides.push({
        source: 'environment',
        raw: environment[name],
        from: `runbookParameters.${runbookId}.${name}`,
      });
    const specific = `${PARAMETER_TAG_PREFIX}${runbookId}.${name}`;
    const general = `${PARAMETER_TAG_PREFIX}${name}`;
    const tag = Object.hasOwn(tags, specific) ? specific : Object.hasOwn(tags, general) ? general : undefined;
    if (tag) overrides.push({ source: 'resource', raw: tags[tag], from: `the resource's ${tag}` });
    for (const override of overrides) {
      if (!parameter.overridableBy.includes(override.source)) {
        settled.notes.push(
          `${name}: ${override.from} ignored: the runbook does not let the ${override.source} override it`,
        );
        continue;
      }
      const coerced = coerceParameter(name, parameter, override.raw);
      if ('problem' in coerced) {
        settled.notes.push(`${override.from} ignored: ${coerced.problem}`);
        continue;
      }
      settled.values[name] = coerced.value;
      settled.sources[name] = override.source;
    }
    // Checked against the declaration when the person asked (400 otherwise); checked again here.
    if (Object.hasOwn(manual, name)) {
      const coerced = coerceParameter(name, parameter, manual[name]);
      if ('problem' in coerced)
        settled.notes.push(`the value given at the manual start ignored: ${coerced.problem}`);
      else {
        settled.values[name] = coerced.value;
        settled.sources[name] = 'manual';
      }
    }
  }
  return settled;
}
