import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MappingTable } from '../src/mm/objects.js'

describe('the page->mapping object table', () => {
  it('answers as a Map would under any sequence of set, delete, get and has', () => {
    type Op = { kind: 'set' | 'delete' | 'get'; id: number }
    const op = fc.record({
      kind: fc.constantFrom<Op['kind']>('set', 'delete', 'get'),
      id: fc.integer({ min: -2, max: 40 }),
    })
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const t = new MappingTable<{ id: number }>()
        const ref = new Map<number, { id: number }>()
        for (const o of ops) {
          if (o.kind === 'set') {
            if (o.id < 0) {
              expect(() => t.set(o.id, { id: o.id })).toThrow(RangeError)
              continue
            }
            const obj = { id: o.id }
            t.set(o.id, obj)
            ref.set(o.id, obj)
          } else if (o.kind === 'delete') {
            expect(t.delete(o.id)).toBe(ref.delete(o.id))
          }
          expect(t.get(o.id)).toBe(ref.get(o.id))
          expect(t.has(o.id)).toBe(ref.has(o.id))
          expect(t.size).toBe(ref.size)
        }
        // Iteration is in id order: the creation order of the model's objects.
        const ids = [...ref.keys()].sort((a, b) => a - b)
        expect([...t.values()]).toEqual(ids.map((id) => ref.get(id)))
      }),
    )
  })

  it('answers undefined for NULL (-1) and for ids past the last one handed out', () => {
    const t = new MappingTable<object>()
    t.set(3, {})
    expect(t.get(-1)).toBeUndefined()
    expect(t.get(4)).toBeUndefined()
    expect(t.get(2)).toBeUndefined()
    expect(t.size).toBe(1)
  })
})
