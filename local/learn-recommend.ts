import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  clusterUnmatched,
  type RunbookSkeleton,
  runbookSkeleton,
  type UnmatchedCluster,
} from '../functions/core/learning/recommend.ts';
import { validateRunbookText } from '../functions/core/runbook/validate.ts';
import { TOOL_CATALOG } from '../functions/tools/declarations.ts';
import { fetchLearningReport } from './learn.ts';
import { cdkJsonPath, loadPolicies } from './project.ts';
import { listRunbookFiles, validateRunbookFiles } from './runbook-files.ts';

/**
 * `runbook learn recommend [--write [DIR]]`: the alerts no runbook took (from the learning report, as
 * `learn report` reads it), clustered, each cluster with a runbook skeleton that validates. Written
 * only with --write, never over an existing file, by default to <runbooks>/recommended/ (not served
 * until a person moves it into the runbooks directory).
 */

export interface RecommendOptions {
  url: string;
  dataDir: string;
  runbooksDir: string;
  cwd: string;
  token?: string;
  environment: string;
  team: string;
  notify: string;
  minCount: number;
  /** Where to write the skeletons; undefined: print only. */
  write?: string;
}

export interface Recommendation {
  cluster: Omit<UnmatchedCluster, 'sample'>;
  id: string;
  text: string;
  /** Where it was written, or why not. */
  written?: string;
  notWritten?: string;
  /** The skeleton did not validate (a bug): never written. */
  invalid?: string;
}

export async function recommendRunbooks(options: RecommendOptions): Promise<Recommendation[]> {
  const report = await fetchLearningReport({
    url: options.url,
    dataDir: options.dataDir,
    runbooksDir: options.runbooksDir,
    cwd: options.cwd,
    environment: options.environment,
    ...(options.token ? { token: options.token } : {}),
  });
  const policies = loadPolicies(cdkJsonPath(options.cwd));
  const environments = Object.keys(policies).length > 0 ? Object.keys(policies) : [options.environment];
  const existing = new Set(
    validateRunbookFiles(listRunbookFiles([options.runbooksDir]).files, {
      tools: TOOL_CATALOG,
      policies,
    }).flatMap((result) => (result.runbook ? [result.runbook.id] : [])),
  );
  const skeletons: RunbookSkeleton[] = clusterUnmatched(report.unmatched)
    .filter((cluster) => cluster.count >= options.minCount)
    .map((cluster) => runbookSkeleton(cluster, { environments, team: options.team, notify: options.notify }));
  if (options.write) mkdirSync(options.write, { recursive: true });
  return skeletons.map((skeleton) => {
    const { sample: _sample, ...cluster } = skeleton.cluster;
    const recommendation: Recommendation = { cluster, id: skeleton.id, text: skeleton.text };
    const problems = validateRunbookText(skeleton.text, { tools: TOOL_CATALOG, policies }).problems;
    if (problems.length > 0)
      return {
        ...recommendation,
        invalid: `the skeleton does not validate (${problems.map((problem) => `${problem.path}: ${problem.message}`).join('; ')}): not written; this is a bug, please report it`,
      };
    if (!options.write) return recommendation;
    const file = join(options.write, `${skeleton.id}.yaml`);
    const shown = relative(options.cwd, file) || file;
    if (existing.has(skeleton.id))
      return {
        ...recommendation,
        notWritten: `a runbook with id ${skeleton.id} exists in ${relative(options.cwd, options.runbooksDir) || options.runbooksDir}: give it an applicability rule for these alerts instead`,
      };
    if (existsSync(file)) return { ...recommendation, notWritten: `${shown} exists: not overwritten` };
    writeFileSync(file, skeleton.text);
    return { ...recommendation, written: shown };
  });
}

export function formatRecommendations(recommendations: readonly Recommendation[], write: boolean): string[] {
  if (recommendations.length === 0) return ['no unmatched alerts to recommend a runbook for'];
  const lines: string[] = [];
  recommendations.forEach((recommendation, index) => {
    const { cluster } = recommendation;
    lines.push(
      `${index + 1}. ${recommendation.id}: ${cluster.names.join(', ')} (${cluster.source}, ${cluster.resourceType}${cluster.labelKeys.length > 0 ? `; labels ${cluster.labelKeys.join(', ')}` : ''}): ${cluster.count} alert(s), ${cluster.firstSeenAt} to ${cluster.lastSeenAt}`,
    );
    if (recommendation.written) lines.push(`   wrote ${recommendation.written}`);
    if (recommendation.notWritten) lines.push(`   not written: ${recommendation.notWritten}`);
    if (recommendation.invalid) lines.push(`   ${recommendation.invalid}`);
    if (!write) lines.push('', ...recommendation.text.trimEnd().split('\n'), '');
  });
  if (write && recommendations.some((recommendation) => recommendation.written))
    lines.push(
      '',
      'review each skeleton (meaning, impact, the remediation your team does by hand), then move it into the runbooks directory and run npm run compile',
    );
  return lines;
}
