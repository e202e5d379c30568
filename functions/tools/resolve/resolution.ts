import type { AlertResource, ResolutionStep, ResolvedResource } from '../../core/resource.ts';
import type { ToolContext } from '../../ports/tools.ts';

/** Lists in a resolved resource are capped: it stays in the execution state ($.resolved). */
export const MAX_RESOLVED_LIST = 20;

/** The alert's identity is fixed; resolution adds the rest (node and address where the alert lacks them). */
type Identity =
  | 'type'
  | 'id'
  | 'kind'
  | 'name'
  | 'namespace'
  | 'cluster'
  | 'container'
  | 'job'
  | 'service'
  | 'region'
  | 'account'
  | 'arn'
  | 'identifiers';
type Extra = Omit<ResolvedResource, Identity | 'resolution' | 'unresolved'>;

/**
 * What one resolution has found so far. Families (Kubernetes, AWS) add fields with the hop that found
 * them, or say what they could not find and why; nothing they add can overwrite the alert's own
 * reference.
 */
export class Resolution {
  private readonly found: Partial<Extra> = {};
  private readonly steps: ResolutionStep[] = [];
  private readonly misses: string[] = [];
  private readonly tagValues: Record<string, string> = {};

  constructor(
    readonly resource: AlertResource,
    readonly labels: Readonly<Record<string, string>>,
  ) {}

  /** Records a field and how it was found. Lists are capped at MAX_RESOLVED_LIST. */
  set<Key extends keyof Extra>(key: Key, value: Extra[Key], hop: ResolutionStep): void {
    this.found[key] = (Array.isArray(value) ? value.slice(0, MAX_RESOLVED_LIST) : value) as Extra[Key];
    this.steps.push(hop);
  }

  get<Key extends keyof Extra>(key: Key): Extra[Key] | undefined {
    return this.found[key];
  }

  /** Something a runbook may need could not be found: it says what, and why. */
  miss(what: string, why: string): void {
    this.misses.push(`${what}: ${why}`);
  }

  /** Tags (AWS) or labels and annotations (Kubernetes) of the resource; parameters read theirs. */
  addTags(tags: Readonly<Record<string, string | undefined>>): void {
    for (const [key, value] of Object.entries(tags)) if (value !== undefined) this.tagValues[key] = value;
  }

  get tags(): Readonly<Record<string, string>> {
    return this.tagValues;
  }

  result(): ResolvedResource {
    const tags = Object.keys(this.tagValues).length > 0 ? { tags: { ...this.tagValues } } : {};
    return {
      ...this.resource,
      ...this.found,
      ...tags,
      resolution: [...this.steps],
      unresolved: [...this.misses],
    };
  }
}

/** A family of resolvers (Kubernetes, AWS): fills in what it can about the resource types it knows. */
export interface ResolverFamily {
  name: string;
  /** Whether this family has anything to say about the resource. */
  handles(resource: AlertResource): boolean;
  /** Adds to the resolution; a failing API call is a `miss`, never a throw (the runbook decides). */
  resolve(resolution: Resolution, context: ToolContext): Promise<void>;
}
