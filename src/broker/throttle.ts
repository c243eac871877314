/**
 * AWS's rate limits as token buckets on the endpoint's clock: a bucket holds up to one second's worth of
 * allowance and refills continuously, so a limit of 100/s lets 100 through at once and then one every 10 ms.
 */

export class RateBucket {
  private tokens: number;
  private last: number;

  constructor(
    /** Allowance per second (also the most that can be used at once). */
    private readonly perSecond: number,
    now: number,
  ) {
    this.tokens = perSecond;
    this.last = now;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) * this.perSecond) / 1000);
      this.last = now;
    }
  }

  /** Takes `amount` if the bucket holds it; false (nothing taken) when it does not. */
  take(now: number, amount = 1): boolean {
    this.refill(now);
    if (this.tokens < amount) return false;
    this.tokens -= amount;
    return true;
  }

  /** Takes `amount` whatever the bucket holds (it may go below zero); returns ms until it is back at zero. */
  charge(now: number, amount: number): number {
    this.refill(now);
    this.tokens -= amount;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.perSecond);
  }

  /** Ms until `amount` could be taken (0: now). */
  waitFor(now: number, amount = 1): number {
    this.refill(now);
    return this.tokens >= amount ? 0 : Math.ceil(((amount - this.tokens) * 1000) / this.perSecond);
  }

  /** Whether the bucket is full at `now` (it can be forgotten: a new one would be the same). */
  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.perSecond;
  }
}

/** Buckets by key (client id), forgetting full ones when there are too many to keep. */
export class RateBuckets {
  private readonly buckets = new Map<string, RateBucket>();

  constructor(
    private readonly perSecond: number,
    private readonly maxKept = 10_000,
  ) {}

  take(key: string, now: number): boolean {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.maxKept) this.prune(now);
      bucket = new RateBucket(this.perSecond, now);
      this.buckets.set(key, bucket);
    }
    return bucket.take(now);
  }

  private prune(now: number): void {
    for (const [key, bucket] of this.buckets) if (bucket.full(now)) this.buckets.delete(key);
    // Still too many (a flood of new ids within a second): the oldest go; a forgotten id is simply not throttled.
    for (const key of this.buckets.keys()) {
      if (this.buckets.size < this.maxKept) break;
      this.buckets.delete(key);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}
