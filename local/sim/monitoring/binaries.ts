import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * The real Prometheus and Alertmanager, as Debian installs them: `prometheus` and `promtool` from the
 * `prometheus` package, `prometheus-alertmanager` and `amtool` from `prometheus-alertmanager` (the
 * upstream binary is called `alertmanager`; both names are looked for).
 */

export const INSTALL_HINT = 'apt-get install -y prometheus prometheus-alertmanager';

export interface MonitoringBinaries {
  prometheus: string;
  promtool: string;
  alertmanager: string;
  /** Validates the Alertmanager configuration when present. */
  amtool?: string;
}

export type MonitoringAvailability =
  | { available: true; binaries: MonitoringBinaries }
  | { available: false; missing: string[]; hint: string };

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function which(names: string[], directories: string[]): string | undefined {
  for (const name of names)
    for (const directory of directories) {
      const candidate = join(directory, name);
      if (executable(candidate)) return candidate;
    }
  return undefined;
}

/** Finds the binaries on PATH (and in /usr/bin, /usr/local/bin); says what is missing and how to install it. */
export function findMonitoringBinaries(
  searchPath = process.env.PATH ?? '',
  alsoIn: string[] = ['/usr/bin', '/usr/local/bin'],
): MonitoringAvailability {
  const directories = [...searchPath.split(delimiter).filter(Boolean), ...alsoIn];
  const prometheus = which(['prometheus'], directories);
  const promtool = which(['promtool'], directories);
  const alertmanager = which(['prometheus-alertmanager', 'alertmanager'], directories);
  const amtool = which(['amtool'], directories);
  const missing = [
    ...(prometheus ? [] : ['prometheus']),
    ...(promtool ? [] : ['promtool']),
    ...(alertmanager ? [] : ['prometheus-alertmanager']),
  ];
  if (!prometheus || !promtool || !alertmanager)
    return {
      available: false,
      missing,
      hint: `${missing.join(', ')} not found on PATH; install them with: ${INSTALL_HINT}`,
    };
  return { available: true, binaries: { prometheus, promtool, alertmanager, ...(amtool ? { amtool } : {}) } };
}
