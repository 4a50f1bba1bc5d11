// Findings of one kind gathered into one: a rule that may fire once per checkpoint or record
// reports how many, where the first was and the range they span, not a line each.

export class Tally {
  count = 0;
  private where: { epoch?: number; position?: string } = {};
  private low = Number.POSITIVE_INFINITY;
  private high = Number.NEGATIVE_INFINITY;

  add(where: { epoch?: number; position?: string }, n: number): void {
    if (this.count++ === 0) this.where = where;
    if (n < this.low) this.low = n;
    if (n > this.high) this.high = n;
  }

  report(
    emit: (count: number, where: { epoch?: number; position?: string }, range: string) => void,
  ): void {
    if (this.count > 0)
      emit(
        this.count,
        this.where,
        this.low === this.high ? `${this.low}` : `${this.low}..${this.high}`,
      );
  }

  /** First and last value added. */
  get span(): [number, number] {
    return [this.low, this.high];
  }
}
