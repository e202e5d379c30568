/**
 * The keys approval links are signed and checked with. On AWS they live in Secrets Manager and are read
 * again after a rotation; the embedded platform keeps one key in its data directory.
 */
export interface LinkSigningKeys {
  /** The key new links are signed with (the current one). */
  signing(): Promise<Buffer>;
  /**
   * The keys a link may be signed with now, current first: after a rotation also the previous key, for
   * one link lifetime. `recheck` asks the source again when the keys were read a while ago (a link
   * signed with a key this reader has not seen yet).
   */
  verifying(options?: { recheck?: boolean }): Promise<readonly Buffer[]>;
}

/** One key that never changes (the embedded platform, tests). */
export function fixedLinkSigningKeys(key: Buffer): LinkSigningKeys {
  const keys = [key] as const;
  return {
    signing: async () => key,
    verifying: async () => keys,
  };
}
