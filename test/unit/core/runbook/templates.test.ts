import { describe, expect, it } from 'vitest';
import {
  findTemplates,
  resolveTemplates,
  TemplateResolutionError,
} from '../../../../functions/core/runbook/templates.ts';

const scope = {
  alert: { resource: { id: 'node-1' }, labels: { namespace: 'shop' } },
  steps: { 'top-pods': { output: { pods: [{ name: 'cart-1', memoryShare: 0.7 }] } } },
};

describe('templates', () => {
  it('keeps the type of a value that is exactly one template', () => {
    expect(resolveTemplates({ share: '{{ steps.top-pods.output.pods[0].memoryShare }}' }, scope)).toEqual({
      share: 0.7,
    });
  });

  it('interpolates templates inside a longer string, and in lists', () => {
    expect(
      resolveTemplates(
        {
          query: 'up{node="{{ alert.resource.id }}",ns="{{alert.labels.namespace}}"}',
          args: ['{{ steps.top-pods.output.pods.0.name }}'],
        },
        scope,
      ),
    ).toEqual({ query: 'up{node="node-1",ns="shop"}', args: ['cart-1'] });
  });

  it('names the template and where it sits when a value is missing', () => {
    const act = () => resolveTemplates({ pod: '{{ steps.top-pods.output.pods[3].name }}' }, scope);
    expect(act).toThrow(TemplateResolutionError);
    expect(act).toThrow('pod: {{ steps.top-pods.output.pods[3].name }} has no value in this execution');
  });

  it('finds references with their place, and reports malformed ones', () => {
    const { references, errors } = findTemplates({
      a: 'x {{ alert.name }}',
      b: ['{{ 1 + 1 }}'],
      c: '{{ open',
    });
    expect(references.map((reference) => [reference.expression, reference.at])).toEqual([
      ['alert.name', ['a']],
    ]);
    expect(errors.map((error) => [error.at, error.message])).toEqual([
      [['b', 0], '"{{ 1 + 1 }}" is not a reference: use a dotted path such as {{ alert.labels.node }}'],
      [['c'], 'unbalanced template braces in "{{ open"'],
    ]);
  });

  it('never evaluates code', () => {
    expect(() => resolveTemplates({ x: '{{ constructor.constructor }}' }, scope)).toThrow(
      TemplateResolutionError,
    );
  });
});
