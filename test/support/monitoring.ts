import { describe, it } from 'vitest';
import { findMonitoringBinaries, type MonitoringBinaries } from '../../local/sim/monitoring/binaries.ts';

/**
 * Tests that need the real Prometheus and Alertmanager: in CI (CI=true, as .ci/run sets it) a missing
 * binary is a failure; elsewhere the tests are skipped with the reason in their name and on stderr,
 * so a green run without them cannot be mistaken for one with them.
 */

export const MONITORING = findMonitoringBinaries();

/** The binaries, when installed (undefined otherwise: the suite using them is skipped or fails). */
export const MONITORING_BINARIES: MonitoringBinaries | undefined = MONITORING.available
  ? MONITORING.binaries
  : undefined;

const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

/** `describe` for a suite that needs Prometheus and Alertmanager. */
export function describeWithMonitoring(name: string, suite: (binaries: MonitoringBinaries) => void): void {
  if (MONITORING.available) {
    describe(name, () => suite(MONITORING.binaries));
    return;
  }
  if (IN_CI) {
    describe(name, () => {
      it('has Prometheus and Alertmanager installed (CI requires them)', () => {
        throw new Error(`${MONITORING.hint}; .ci/run installs them`);
      });
    });
    return;
  }
  process.stderr.write(`SKIPPED "${name}": ${MONITORING.hint}\n`);
  describe.skip(`${name} [SKIPPED: ${MONITORING.hint}]`, () => suite({} as MonitoringBinaries));
}
