import { FamilySet, type MetricFamily, type MetricType } from '../exposition.ts';
import { CPU_MODES, type Host } from '../host.ts';
import type { World } from '../world.ts';

/**
 * node-exporter (v1.8) on one node: the machine's CPU, memory, filesystems, network and identity, as
 * its collectors name them. Its series carry no node name: hosts are known by `instance` (node IP and
 * port 9100), which is why alerts from it need the IP looked up in the nodes' addresses.
 */

const D = (help: string, type: MetricType = 'gauge') => ({ help, type });

const DESCRIPTIONS: Record<string, { help: string; type: MetricType }> = {
  node_exporter_build_info: D(
    "A metric with a constant '1' value labeled by version, revision, branch, goversion from which node_exporter was built, and the goos and goarch for the build.",
  ),
  node_uname_info: D('Labeled system information as provided by the uname system call.'),
  node_os_info: D(
    "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.",
  ),
  node_boot_time_seconds: D('Node boot time, in unixtime.'),
  node_time_seconds: D('System time in seconds since epoch (1970).'),
  node_timex_offset_seconds: D('Time offset in between local system and reference clock.'),
  node_timex_sync_status: D('Is clock synchronized to a reliable server (1 = yes, 0 = no).'),
  node_timex_maxerror_seconds: D('Maximum error in seconds.'),
  node_cpu_seconds_total: D('Seconds the CPUs spent in each mode.', 'counter'),
  node_load1: D('1m load average.'),
  node_load5: D('5m load average.'),
  node_load15: D('15m load average.'),
  node_memory_MemTotal_bytes: D('Memory information field MemTotal_bytes.'),
  node_memory_MemFree_bytes: D('Memory information field MemFree_bytes.'),
  node_memory_MemAvailable_bytes: D('Memory information field MemAvailable_bytes.'),
  node_memory_Buffers_bytes: D('Memory information field Buffers_bytes.'),
  node_memory_Cached_bytes: D('Memory information field Cached_bytes.'),
  node_memory_SwapTotal_bytes: D('Memory information field SwapTotal_bytes.'),
  node_memory_SwapFree_bytes: D('Memory information field SwapFree_bytes.'),
  node_vmstat_pgmajfault: D('/proc/vmstat information field pgmajfault.', 'untyped'),
  node_filesystem_avail_bytes: D('Filesystem space available to non-root users in bytes.'),
  node_filesystem_free_bytes: D('Filesystem free space in bytes.'),
  node_filesystem_size_bytes: D('Filesystem size in bytes.'),
  node_filesystem_files: D('Filesystem total file nodes.'),
  node_filesystem_files_free: D('Filesystem total free file nodes.'),
  node_filesystem_readonly: D('Filesystem read-only status.'),
  node_filesystem_device_error: D('Whether an error occurred while getting statistics for the given device.'),
  node_filefd_allocated: D('File descriptor statistics: allocated.'),
  node_filefd_maximum: D('File descriptor statistics: maximum.'),
  node_network_receive_bytes_total: D('Network device statistic receive_bytes.', 'counter'),
  node_network_transmit_bytes_total: D('Network device statistic transmit_bytes.', 'counter'),
  node_network_receive_errs_total: D('Network device statistic receive_errs.', 'counter'),
  node_network_transmit_errs_total: D('Network device statistic transmit_errs.', 'counter'),
  node_network_up: D("Value is 1 if operstate is 'up', 0 otherwise."),
  node_nf_conntrack_entries: D('Number of currently allocated flow entries for connection tracking.'),
  node_nf_conntrack_entries_limit: D('Maximum size of connection tracking table.'),
  node_textfile_scrape_error: D('1 if there was an error opening or reading a file, 0 otherwise'),
};

/** Reserved for root on xfs/ext4: free counts it, avail (what non-root users get) does not. */
const ROOT_RESERVED_FRACTION = 0.002;

export function nodeExporterMetrics(world: World, host: Host): MetricFamily[] {
  const set = new FamilySet(DESCRIPTIONS);
  set.add(
    'node_exporter_build_info',
    {
      branch: 'HEAD',
      goarch: 'amd64',
      goos: 'linux',
      goversion: 'go1.22.5',
      revision: 'f1e0e8360aa60b6cb5e5cc1560bed348fc2c1895',
      tags: 'unknown',
      version: '1.8.2',
    },
    1,
  );
  set.add(
    'node_uname_info',
    {
      domainname: '(none)',
      machine: 'x86_64',
      nodename: host.name,
      release: '6.1.112-124.190.amzn2023.x86_64',
      sysname: 'Linux',
      version: '#1 SMP PREEMPT_DYNAMIC Tue Oct 29 18:21:54 UTC 2024',
    },
    1,
  );
  set.add(
    'node_os_info',
    {
      build_id: '',
      id: 'amzn',
      id_like: 'fedora',
      image_id: '',
      image_version: '',
      name: 'Amazon Linux',
      pretty_name: 'Amazon Linux 2023.6.20241031',
      variant: '',
      variant_id: '',
      version: '2023',
      version_codename: '',
      version_id: '2023',
    },
    1,
  );
  set.add('node_boot_time_seconds', {}, host.bootTime);
  set.add('node_time_seconds', {}, (time) => time);
  set.add('node_timex_offset_seconds', {}, 0.000_012);
  set.add('node_timex_sync_status', {}, 1);
  set.add('node_timex_maxerror_seconds', {}, 0.0015);

  for (const [cpu, modes] of host.cpuSeconds.entries()) {
    for (const mode of CPU_MODES) {
      const counter = modes.get(mode)!;
      set.add('node_cpu_seconds_total', { cpu: String(cpu), mode }, (time) => counter.at(time));
    }
  }
  const busy = world.nodeCpuUsed(host.name);
  set.add('node_load1', {}, Math.round(busy * 1.1 * 100) / 100);
  set.add('node_load5', {}, Math.round(busy * 1.05 * 100) / 100);
  set.add('node_load15', {}, Math.round(busy * 100) / 100);

  const used = (time: number) => world.nodeMemoryUsed(host.name, time);
  set.add('node_memory_MemTotal_bytes', {}, host.memoryBytes);
  set.add('node_memory_MemAvailable_bytes', {}, (time) => Math.max(0, host.memoryBytes - used(time)));
  set.add('node_memory_MemFree_bytes', {}, (time) =>
    Math.max(0, Math.round((host.memoryBytes - used(time)) * 0.35)),
  );
  set.add('node_memory_Buffers_bytes', {}, 3.2 * 2 ** 20);
  set.add('node_memory_Cached_bytes', {}, (time) =>
    Math.max(0, Math.round((host.memoryBytes - used(time)) * 0.6)),
  );
  set.add('node_memory_SwapTotal_bytes', {}, 0);
  set.add('node_memory_SwapFree_bytes', {}, 0);
  set.add('node_vmstat_pgmajfault', {}, (time) => Math.round(host.majorPageFaults.at(time)));

  for (const filesystem of host.filesystems) {
    const labels = {
      device: filesystem.device,
      fstype: filesystem.fstype,
      mountpoint: filesystem.mountpoint,
    };
    const reserved =
      filesystem.fstype === 'tmpfs' || filesystem.fstype === 'vfat' ? 0 : ROOT_RESERVED_FRACTION;
    set.add('node_filesystem_size_bytes', labels, filesystem.sizeBytes);
    set.add('node_filesystem_avail_bytes', labels, (time) => filesystem.availAt(time));
    set.add('node_filesystem_free_bytes', labels, (time) =>
      Math.min(filesystem.sizeBytes, Math.round(filesystem.availAt(time) + reserved * filesystem.sizeBytes)),
    );
    set.add('node_filesystem_files', labels, filesystem.inodes);
    set.add(
      'node_filesystem_files_free',
      labels,
      (time) => filesystem.inodes - filesystem.inodesUsedAt(time),
    );
    set.add('node_filesystem_readonly', labels, filesystem.readonly ? 1 : 0);
    set.add('node_filesystem_device_error', labels, 0);
  }
  set.add('node_filefd_allocated', {}, 2_816);
  set.add('node_filefd_maximum', {}, 9.223372036854776e18);
  const network = { device: 'ens5' };
  set.add('node_network_receive_bytes_total', network, (time) =>
    Math.round(host.network.receiveBytes.at(time)),
  );
  set.add('node_network_transmit_bytes_total', network, (time) =>
    Math.round(host.network.transmitBytes.at(time)),
  );
  set.add('node_network_receive_errs_total', network, 0);
  set.add('node_network_transmit_errs_total', network, 0);
  set.add('node_network_up', network, 1);
  set.add('node_nf_conntrack_entries', {}, 1_873);
  set.add('node_nf_conntrack_entries_limit', {}, 131_072);
  set.add('node_textfile_scrape_error', {}, 0);
  return set.list();
}
