/**
 * What a node is below Kubernetes: its machine (CPUs, memory, boot time, EC2 identity) and its
 * filesystems, as node-exporter reads them and as the SSM agent's shell acts on them.
 */

export const MI = 2 ** 20;
export const GI = 2 ** 30;

/**
 * A counter that grows at a rate that may change: monotonic whatever the changes. Before the first
 * change it reads `rate × (t − start)`, so backfilled history and live scrapes agree.
 */
export class RateCounter {
  private anchorTime: number;
  private anchorValue = 0;

  constructor(
    private rate: number,
    start: number,
  ) {
    this.anchorTime = start;
  }

  at(time: number): number {
    return Math.max(0, this.anchorValue + this.rate * (time - this.anchorTime));
  }

  setRate(rate: number, now: number): void {
    if (rate === this.rate) return;
    this.anchorValue = this.at(now);
    this.anchorTime = now;
    this.rate = rate;
  }
}

/** Disk space that grows at a steady rate and drops when something is deleted. */
export class Volume {
  private readonly releases: Array<{ at: number; bytes: number }> = [];
  private size: number;

  constructor(
    sizeBytes: number,
    /** Bytes in use at `start`. */
    private readonly usedAtStart: number,
    /** The steady growth (0: a volume that is not filling). */
    readonly bytesPerSecond: number,
    private readonly start: number,
    readonly inodes = Math.round(sizeBytes / 16_384),
  ) {
    this.size = sizeBytes;
  }

  get sizeBytes(): number {
    return this.size;
  }

  /** The volume grew (an expanded PersistentVolumeClaim whose filesystem was resized online). */
  resize(bytes: number): void {
    this.size = Math.max(this.size, bytes);
  }

  /** Bytes written since `start` (negative before it: the same rate extends back in time). */
  grownBy(time: number): number {
    return this.bytesPerSecond * (time - this.start);
  }

  usedAt(time: number): number {
    let used = this.usedAtStart + this.grownBy(time);
    for (const release of this.releases) if (release.at <= time) used -= release.bytes;
    return Math.max(0, Math.min(this.sizeBytes, Math.round(used)));
  }

  availAt(time: number): number {
    return this.sizeBytes - this.usedAt(time);
  }

  freePercent(time: number): number {
    return (100 * this.availAt(time)) / this.sizeBytes;
  }

  release(time: number, bytes: number): void {
    this.releases.push({ at: time, bytes });
  }

  /** Inodes in use: one per 64 KiB used, a plausible mix of logs, images and small files. */
  inodesUsedAt(time: number): number {
    return Math.min(this.inodes, Math.round(this.usedAt(time) / 65_536) + 12_000);
  }
}

/** What a root filesystem holds that the disk runbook's commands can reclaim. */
export interface ReclaimableContents {
  /** journald's archived and active files, at `start`; they grow with the volume. */
  journalBytes: number;
  rotatedLogBytes: number;
  unusedImageBytes: number;
  /** Container images in use (crictl images counts them with the unused ones). */
  imagesInUse: number;
  unusedImages: number;
}

/** A node filesystem as node-exporter reports it (device, fstype, mountpoint). */
export class NodeFilesystem extends Volume {
  private journalRemoved = 0;

  constructor(
    readonly device: string,
    readonly fstype: string,
    readonly mountpoint: string,
    sizeBytes: number,
    usedAtStart: number,
    bytesPerSecond: number,
    since: number,
    readonly contents: ReclaimableContents,
    readonly readonly = false,
  ) {
    super(sizeBytes, usedAtStart, bytesPerSecond, since);
  }

  /** The journal grows with the volume: journald is what fills it. */
  journalBytes(time: number): number {
    return Math.max(0, this.contents.journalBytes + this.grownBy(time) - this.journalRemoved);
  }

  /** journalctl --vacuum-size: archived journal files go until the journal fits. */
  vacuumJournal(time: number, keepBytes: number): number {
    const removable = Math.max(0, this.journalBytes(time) - keepBytes);
    this.journalRemoved += removable;
    this.release(time, removable);
    return removable;
  }

  deleteRotatedLogs(time: number): number {
    const removed = this.contents.rotatedLogBytes;
    this.contents.rotatedLogBytes = 0;
    this.release(time, removed);
    return removed;
  }

  pruneImages(time: number): number {
    const removed = this.contents.unusedImageBytes;
    this.contents.unusedImageBytes = 0;
    this.contents.unusedImages = 0;
    this.release(time, removed);
    return removed;
  }

  imageCount(): number {
    return this.contents.imagesInUse + this.contents.unusedImages;
  }
}

/** A node's machine: what node-exporter and the SSM agent see. */
export interface Host {
  /** The Kubernetes node name (EKS: the private DNS name). */
  name: string;
  ip: string;
  zone: string;
  instanceId: string;
  instanceType: string;
  cpus: number;
  memoryBytes: number;
  bootTime: number;
  filesystems: NodeFilesystem[];
  /** cpu → mode → seconds counter (node_cpu_seconds_total). */
  cpuSeconds: Map<string, RateCounter>[];
  /** Counters of the primary network interface. */
  network: { receiveBytes: RateCounter; transmitBytes: RateCounter };
  majorPageFaults: RateCounter;
  /** The kubelet's systemd unit: while it is not active, the node posts no status and its /metrics fail. */
  kubelet: KubeletUnit;
}

/** The kubelet as systemd and journald know it. */
export interface KubeletUnit {
  active: boolean;
  /** Since when it is in its current state (Unix seconds). */
  since: number;
  /** Its journal (journalctl -u kubelet), oldest first. */
  journal: string[];
}

export const CPU_MODES = ['idle', 'iowait', 'irq', 'nice', 'softirq', 'steal', 'system', 'user'] as const;

/** How a busy fraction of a CPU splits into modes; idle is the rest. */
export function cpuModeShares(busy: number): Record<(typeof CPU_MODES)[number], number> {
  const shares = {
    iowait: 0.004,
    irq: 0,
    nice: 0,
    softirq: 0.006,
    steal: 0.002,
    system: busy * 0.25,
    user: busy * 0.75,
  };
  const used = Object.values(shares).reduce((a, b) => a + b, 0);
  return { idle: Math.max(0, 1 - used), ...shares };
}
