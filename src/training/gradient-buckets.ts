// Data-parallel gradient exchange: after each rank's backward pass over its part of the global
// batch, every rank's gradients are summed over the ranks in a few flat buckets (one collective
// per bucket, not one per parameter). The losses are already divided by the global batch's size,
// so the sum is the gradient of the global batch, the one a single process would compute.
import { cat, type ProcessGroup, type Tensor } from "../engine/index.js";

/** Bucket size: a few buckets for this project's models (a few MB of parameters each). */
export const DEFAULT_BUCKET_BYTES = 4 * 1024 * 1024;

export class GradientBuckets {
  /** Parameter indices per bucket, in the optimizer's order. */
  readonly buckets: number[][];
  /** Bytes of gradient one step sends into the collectives (every bucket, once). */
  readonly bytes: number;

  constructor(
    readonly group: ProcessGroup,
    readonly params: readonly Tensor[],
    bucketBytes = DEFAULT_BUCKET_BYTES,
  ) {
    this.buckets = [];
    let current: number[] = [];
    let size = 0;
    let total = 0;
    params.forEach((p, k) => {
      const bytes = p.numel * (p.dtype === "float64" ? 8 : 4);
      if (current.length > 0 && size + bytes > bucketBytes) {
        this.buckets.push(current);
        current = [];
        size = 0;
      }
      current.push(k);
      size += bytes;
      total += bytes;
    });
    if (current.length > 0) this.buckets.push(current);
    this.bytes = total;
  }

  /** Sums every parameter's gradient over the ranks, in place. */
  allReduce(): void {
    this.defineMissing();
    for (const bucket of this.buckets) {
      this.group.allReduce(bucket.map((k) => this.params[k]!.grad!));
    }
  }

  /**
   * A parameter this rank's pass did not reach (an empty part of a small batch) has no gradient
   * yet; the collectives need one of the same shape everywhere, so it gets zeros.
   */
  private defineMissing(): void {
    const missing = this.params.filter((p) => p.grad === null);
    if (missing.length === 0) return;
    cat(missing.map((p) => p.reshape(-1)))
      .sum()
      .mul(0)
      .backward();
  }
}
