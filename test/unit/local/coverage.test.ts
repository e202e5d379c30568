import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  normalizeAlertmanager,
  normalizeCloudWatchAlarm,
} from '../../../functions/core/classifier/normalize.ts';
import { CLOUDWATCH_CATALOG, PROMETHEUS_CATALOG } from '../../../local/alert-catalog-data.ts';
import {
  catalogAlarm,
  catalogAlertmanagerBody,
  cloudWatchAlarmEvent,
} from '../../../local/alert-payloads.ts';
import { catalogPayloads, coverageOf, formatCoverage, runbookRemediates } from '../../../local/coverage.ts';
import { listRunbookFiles, validateRunbookFiles } from '../../../local/runbook-files.ts';
import { LIBRARY_RUNBOOKS_DIR } from '../../support/library.ts';
import { loadRunbook, OPTIONS, ROOT } from '../../support/runbooks.ts';

const NORMALIZE = { environmentLabels: ['environment', 'env'], defaultEnvironment: 'prod' };
const library = () =>
  validateRunbookFiles(listRunbookFiles([join(ROOT, LIBRARY_RUNBOOKS_DIR)]).files, OPTIONS).flatMap(
    (result) => (result.runbook ? [result.runbook] : []),
  );

describe('the built-in alert catalog', () => {
  it('holds the 139 default alerts of kube-prometheus-stack and the 40 recommended CloudWatch alarms', () => {
    expect(PROMETHEUS_CATALOG).toHaveLength(139);
    expect(CLOUDWATCH_CATALOG).toHaveLength(40);
    expect(new Set(PROMETHEUS_CATALOG.map((entry) => entry.name)).size).toBe(139);
  });

  it('marks the 23 alerts the design wants remediated', () => {
    expect([...PROMETHEUS_CATALOG, ...CLOUDWATCH_CATALOG].filter((entry) => entry.remediation).length).toBe(
      23,
    );
  });

  it('builds, for every entry, a payload the real normalizer accepts, carrying exactly its label keys', () => {
    for (const entry of PROMETHEUS_CATALOG) {
      const [alert] = normalizeAlertmanager(catalogAlertmanagerBody(entry, 'prod'), NORMALIZE);
      expect(Object.keys(alert!.labels).sort(), entry.name).toEqual(
        [...new Set(['alertname', 'severity', ...entry.labels])].sort(),
      );
      expect(alert!.annotations.runbook_url).toMatch(
        /^https:\/\/runbooks\.prometheus-operator\.dev\/runbooks\//,
      );
    }
    for (const entry of CLOUDWATCH_CATALOG) {
      const alert = normalizeCloudWatchAlarm(cloudWatchAlarmEvent(catalogAlarm(entry, 'prod')), NORMALIZE);
      expect(
        Object.keys(alert.labels)
          .filter((key) => entry.dimensions.includes(key))
          .sort(),
      ).toEqual([...entry.dimensions].sort());
      expect(alert.labels).toMatchObject({ namespace: entry.namespace, metricName: entry.metric });
    }
  });

  it('reproduces the label traps: object alerts carry kube-state-metrics’ own pod, yet name the object', () => {
    const entry = PROMETHEUS_CATALOG.find(
      (candidate) => candidate.name === 'KubeDeploymentReplicasMismatch',
    )!;
    const [alert] = normalizeAlertmanager(catalogAlertmanagerBody(entry, 'prod'), NORMALIZE);
    expect(alert!.labels.pod).toMatch(/kube-state-metrics/);
    expect(alert!.resource).toMatchObject({ type: 'k8s-deployment', name: 'checkout', namespace: 'shop' });
    const disk = PROMETHEUS_CATALOG.find((candidate) => candidate.name === 'NodeFilesystemSpaceFillingUp')!;
    const [host] = normalizeAlertmanager(catalogAlertmanagerBody(disk, 'prod'), NORMALIZE);
    expect(host!.resource).toMatchObject({ type: 'host', address: '10.0.2.141' });
  });
});

describe('coverageOf', () => {
  it('says which runbook takes each alert, remediation or investigation, and counts them', () => {
    // Act
    const report = coverageOf(catalogPayloads('prod'), library(), { environment: 'prod' });

    // Assess: the test library takes a handful; Watchdog and InfoInhibitor are ignored on purpose.
    expect(report.rows).toHaveLength(179);
    const byAlert = new Map(report.rows.map((row) => [row.alert, row]));
    expect(byAlert.get('KubePodCrashLooping')).toMatchObject({
      decision: 'remediation',
      runbookId: 'pod-crash-looping',
      remediationExpected: true,
    });
    expect(byAlert.get('Watchdog')?.decision).toBe('ignored');
    expect(byAlert.get('InfoInhibitor')?.decision).toBe('ignored');
    expect(byAlert.get('AWS/ApplicationELB HTTPCode_Target_5XX_Count')).toMatchObject({
      decision: 'unmatched',
    });
    expect(report.totals).toEqual({
      alerts: 179,
      taken: report.rows.filter((row) => row.decision !== 'unmatched').length,
      takenPercent: expect.any(Number),
      remediation: report.rows.filter((row) => row.decision === 'remediation').length,
      investigation: 0,
      ignored: 2,
      unmatched: report.rows.filter((row) => row.decision === 'unmatched').length,
      remediationList: { alerts: 23, remediated: expect.any(Number), percent: expect.any(Number) },
    });
    expect(report.totals.taken).toBe(report.totals.remediation + report.totals.investigation + 2);
  });

  it('counts a runbook without a mutating step as an investigation', () => {
    // Prepare: a library runbook, its changing phases removed
    const runbook = loadRunbook(`${LIBRARY_RUNBOOKS_DIR}/pod-crash-looping.yaml`);
    const investigation = {
      ...runbook,
      phases: runbook.phases.filter((phase) => phase.id === 'diagnose'),
      conditionalBranching: [],
      approvalRequirements: [],
    };

    // Act / Assess
    expect(runbookRemediates(runbook)).toBe(true);
    expect(runbookRemediates(investigation)).toBe(false);
    const report = coverageOf(catalogPayloads('prod'), [investigation], { environment: 'prod' });
    expect(report.rows.find((row) => row.alert === 'KubePodCrashLooping')?.decision).toBe('investigation');
  });

  it('prints one line per alert and the totals', () => {
    const lines = formatCoverage(coverageOf(catalogPayloads('prod'), library(), { environment: 'prod' }));
    expect(lines.at(-2)).toMatch(
      /^\d+ of 179 alerts taken \([\d.]+%\): \d+ remediation, 0 investigation, 2 ignored on purpose; \d+ unmatched$/,
    );
    expect(lines.at(-1)).toMatch(/^\d+ of 23 alerts that deserve a remediation have one \([\d.]+%\)$/);
    expect(lines.find((line) => line.includes('Watchdog'))).toMatch(
      /^· Watchdog +ignored +ignored on purpose$/,
    );
  });
});
