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

function which(names: string[], searchPath: string): string | undefined {
  const directories = [...searchPath.split(delimiter).filter(Boolean), '/usr/bin', '/usr/local/bin'];
  for (const name of names)
    for (const directory of directories) {
      const candidate = join(directory, name);
      if (executable(candidate)) return candidate;
    }
  return undefined;
}

/** Finds the binaries on PATH (and in /usr/bin, /usr/local/bin); says what is missing and how to install it. */
export function findMonitoringBinaries(searchPath = process.env.PATH ?? ''): MonitoringAvailability {
  const prometheus = which(['prometheus'], searchPath);
  const promtool = which(['promtool'], searchPath);
  const alertmanager = which(['prometheus-alertmanager', 'alertmanager'], searchPath);
  const amtool = which(['amtool'], searchPath);
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
