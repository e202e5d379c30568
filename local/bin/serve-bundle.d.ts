/** Where `runbook serve` builds the CLI, one directory per process (serve-<pid>). */
export declare const SERVE_BUILD_DIR: string;
/** The built CLI's entry URL and its removal; undefined when it could not be built (tsx runs it then). */
export declare function buildServe(): Promise<{ url: string; remove: () => void } | undefined>;
