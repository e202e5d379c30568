import {
  GetSecretValueCommand,
  type GetSecretValueCommandOutput,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { ConfigurationError } from '../../core/errors.ts';
import type { Clock } from '../../ports/clock.ts';
import type { LinkSigningKeys } from '../../ports/link-signing-keys.ts';

/** Functions read their secrets again after this long (the README and the secrets' descriptions say 5 minutes). */
export const SECRET_MAX_AGE_SECONDS = 300;
/** A signature no key matches makes the reader ask again, at most this often (forged links cost no reads). */
export const RECHECK_AFTER_SECONDS = 30;

export interface SecretsManagerLinkSigningKeysOptions {
  client: SecretsManagerClient;
  /** Name or ARN of the link-signing secret. */
  secretId: string;
  clock: Clock;
  /** How long approval links live (approvals.linkTtl): the previous key is accepted this long after a rotation. */
  linkTtlSeconds: number;
  maxAgeSeconds?: number;
  recheckAfterSeconds?: number;
}

interface KeyRead {
  current: Buffer;
  /** When the current version was made (put-secret-value): the rotation. */
  rotatedAt: number;
  previous?: Buffer;
  readAt: number;
}

/**
 * The link-signing key from Secrets Manager. `put-secret-value` makes the new value AWSCURRENT and keeps
 * the old one as AWSPREVIOUS: links are signed with the current key, and a link signed with the previous
 * one is accepted until one link lifetime after the rotation (no link it signed lives longer; a reader
 * may have signed with it up to a cache period after the rotation, so that is added). Read again every
 * five minutes, and sooner when a signature matches no key.
 */
export class SecretsManagerLinkSigningKeys implements LinkSigningKeys {
  readonly secretId: string;
  readonly #options: Required<SecretsManagerLinkSigningKeysOptions>;
  #read: KeyRead | undefined;
  #reading: Promise<KeyRead> | undefined;

  constructor(options: SecretsManagerLinkSigningKeysOptions) {
    this.secretId = options.secretId;
    this.#options = {
      maxAgeSeconds: SECRET_MAX_AGE_SECONDS,
      recheckAfterSeconds: RECHECK_AFTER_SECONDS,
      ...options,
    };
  }

  async signing(): Promise<Buffer> {
    return (await this.#keys(false)).current;
  }

  async verifying(options: { recheck?: boolean } = {}): Promise<readonly Buffer[]> {
    const read = await this.#keys(options.recheck === true);
    const { linkTtlSeconds, maxAgeSeconds } = this.#options;
    const previousUntil = read.rotatedAt + (linkTtlSeconds + maxAgeSeconds) * 1_000;
    return read.previous && this.#now() < previousUntil ? [read.current, read.previous] : [read.current];
  }

  #now(): number {
    return this.#options.clock.now().getTime();
  }

  async #keys(recheck: boolean): Promise<KeyRead> {
    const read = this.#read;
    const age = read ? this.#now() - read.readAt : Number.POSITIVE_INFINITY;
    const stale = age >= this.#options.maxAgeSeconds * 1_000;
    const recheckDue = recheck && age >= this.#options.recheckAfterSeconds * 1_000;
    if (read && !stale && !recheckDue) return read;
    // Concurrent requests share one read.
    this.#reading ??= this.#fetch().finally(() => {
      this.#reading = undefined;
    });
    this.#read = await this.#reading;
    return this.#read;
  }

  async #fetch(): Promise<KeyRead> {
    const readAt = this.#now();
    const current = await this.#version('AWSCURRENT');
    if (!current) throw new ConfigurationError(`secret ${this.secretId} has no current value`);
    const rotatedAt = current.createdAt ?? 0;
    const { linkTtlSeconds, maxAgeSeconds } = this.#options;
    // The previous key matters only while links it signed may still be alive.
    const previous =
      readAt < rotatedAt + (linkTtlSeconds + maxAgeSeconds) * 1_000
        ? await this.#version('AWSPREVIOUS')
        : undefined;
    return { current: current.key, rotatedAt, readAt, ...(previous ? { previous: previous.key } : {}) };
  }

  async #version(
    stage: 'AWSCURRENT' | 'AWSPREVIOUS',
  ): Promise<{ key: Buffer; createdAt?: number } | undefined> {
    let answer: GetSecretValueCommandOutput;
    try {
      answer = await this.#options.client.send(
        new GetSecretValueCommand({ SecretId: this.secretId, VersionStage: stage }),
      );
    } catch (error) {
      // A secret never rotated has no AWSPREVIOUS.
      if (stage === 'AWSPREVIOUS' && error instanceof ResourceNotFoundException) return undefined;
      throw new ConfigurationError(
        `cannot read secret ${this.secretId} (${stage}): ${(error as Error).name}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const value = answer.SecretString;
    if (typeof value !== 'string' || value.length === 0)
      throw new ConfigurationError(`secret ${this.secretId} (${stage}) is empty`);
    return {
      key: Buffer.from(value, 'utf8'),
      ...(answer.CreatedDate ? { createdAt: answer.CreatedDate.getTime() } : {}),
    };
  }
}
