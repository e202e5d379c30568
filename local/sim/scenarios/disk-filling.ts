import { DEMO_NODES, ROOT_DISK_BYTES, rootFilesystem } from '../cluster.ts';
import { GI, MI } from '../host.ts';
import { chartRule } from '../monitoring/rules.ts';
import { nowSeconds } from '../world.ts';
import type { Scenario } from './types.ts';

/**
 * A debug log level left on floods journald on the disk node: its root filesystem has 13.7% free and
 * will be full in about nine hours. The runbook vacuums the journal over SSM Run Command.
 */

const FREE_FRACTION = 0.137;
const FULL_IN_HOURS = 9;
const JOURNAL_BYTES = 9.4 * GI;

const SELECTOR = '{job="node-exporter",fstype!="",mountpoint!=""}';

export const NODE_FILESYSTEM_SPACE_FILLING_UP = chartRule({
  group: 'node-exporter',
  alert: 'NodeFilesystemSpaceFillingUp',
  expr: `(\n  node_filesystem_avail_bytes${SELECTOR} / node_filesystem_size_bytes${SELECTOR} * 100 < 15\nand\n  predict_linear(node_filesystem_avail_bytes${SELECTOR}[6h], 24*60*60) < 0\nand\n  node_filesystem_readonly${SELECTOR} == 0\n)`,
  for: '1h',
  simulatedFor: '5s',
  labels: { severity: 'warning' },
  annotations: {
    description:
      'Filesystem on {{ $labels.device }}, mounted on {{ $labels.mountpoint }}, at {{ $labels.instance }} has only {{ printf "%.2f" $value }}% available space left and is filling up.',
    runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/node/nodefilesystemspacefillingup',
    summary: 'Filesystem is predicted to run out of space within the next 24 hours.',
  },
});

export const diskFilling: Scenario = {
  id: 'disk-filling',
  summary: "journald fills a node's root filesystem; node-filesystem-filling vacuums it over SSM",
  alertname: 'NodeFilesystemSpaceFillingUp',
  runbookId: 'node-filesystem-filling',
  inDefaultSet: true,
  waits: 'the runbook waits 90 s (settle-after-routine) for node-exporter to see the new free space',
  waitSeconds: 90,
  rules: [NODE_FILESYSTEM_SPACE_FILLING_UP],
  setup(world) {
    const node = DEMO_NODES.disk;
    const host = world.host(node.name);
    const free = FREE_FRACTION * ROOT_DISK_BYTES;
    const root = rootFilesystem(
      world,
      {
        freeFraction: FREE_FRACTION,
        bytesPerSecond: free / (FULL_IN_HOURS * 3_600),
        journalBytes: JOURNAL_BYTES,
      },
      { rotatedLogBytes: 310 * MI, unusedImageBytes: 3.1 * GI, unusedImages: 23 },
    );
    host.filesystems[host.filesystems.findIndex((filesystem) => filesystem.mountpoint === '/')] = root;
    const instance = `${node.ip}:9100`;
    return {
      title: `NodeFilesystemSpaceFillingUp ${instance} /`,
      story: [
        `A debug log level left on floods journald on ${node.name}: the journal holds`,
        `${(root.journalBytes(world.startedAt) / GI).toFixed(1)} GiB and / has ${root.freePercent(world.startedAt).toFixed(1)}% free, full in about ${FULL_IN_HOURS} hours.`,
        `The runbook vacuums the journal over SSM Run Command on ${node.instanceId}.`,
      ],
      alertSeries: {
        metric: 'node_filesystem_avail_bytes',
        labels: { instance, mountpoint: '/', device: root.device, fstype: root.fstype },
      },
      alertValue: () => root.freePercent(nowSeconds()),
      holds: () => root.freePercent(nowSeconds()) < 15 && root.bytesPerSecond > 0,
      firingForMinutes: 9,
    };
  },
};
