/**
 * The objects `page->mapping` can name, by the id the model stores in
 * `frames.mapping` (mm/page.ts): anon_vmas (objrmap), anonmms (anonmm) and
 * address_spaces.
 *
 * In the kernel the field is a pointer, and following it is one load. Ids are
 * handed out densely and never reused (Machine.newObjectId), so the table is
 * an array indexed by id: `get` is a bounds check and a load, where a Map
 * would hash on every lookup. It answers on paths that run once per pte
 * (anonmm's clear_page_anon when a zap drops the last mapping, set_page_dirty's
 * page-cache test, the rmap walks). Iteration is in id order, which is
 * creation order.
 */
export class MappingTable<T extends object> {
  /** Slot per id handed out so far; undefined where nothing is registered (yet, or any more). */
  private readonly slots: (T | undefined)[] = []
  private live = 0

  /** The object registered under `id`, or undefined (NULL mapping, freed object). */
  get(id: number): T | undefined {
    return id >= 0 && id < this.slots.length ? this.slots[id] : undefined
  }

  /** Is an object registered under `id`? */
  has(id: number): boolean {
    return this.get(id) !== undefined
  }

  /** Register `obj` under `id` (a fresh id from newObjectId, or the same object again). */
  set(id: number, obj: T): this {
    if (!Number.isInteger(id) || id < 0)
      throw new RangeError(`mapping table: id ${id} is not a valid object id`)
    const s = this.slots
    // Fill any gap so the array stays packed (ids of objects not registered here).
    while (s.length < id) s.push(undefined)
    if (s[id] === undefined) this.live++
    if (id === s.length) s.push(obj)
    else s[id] = obj
    return this
  }

  /** Forget `id`; true if something was registered under it. */
  delete(id: number): boolean {
    if (this.get(id) === undefined) return false
    this.slots[id] = undefined
    this.live--
    return true
  }

  /** How many objects are registered. */
  get size(): number {
    return this.live
  }

  /** The registered objects, in id order. */
  *values(): IterableIterator<T> {
    for (const obj of this.slots) if (obj !== undefined) yield obj
  }
}
