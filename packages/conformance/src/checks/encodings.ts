/**
 * Layer (a): geometry, constants and pte encodings against the kernel facts
 * (vector rows, prose facts), and the properties every layout must have: round
 * trips, limits, edge addresses, exclusive pte kinds, and agreement of the
 * number-based fast form with the bigint surface.
 */
import { type Arch, MAX_SWAPFILES, MAX_SWAPFILES_SHIFT } from '@rmaplab/rmap'
import fc from 'fast-check'
import { expect } from 'vitest'
import type { EntryFormat } from '../types.js'
import {
  expectBug,
  expectLimit,
  h,
  hex,
  hi32,
  join,
  lo32,
  MAX_SAFE,
  minBig,
  ulong,
  wideBig,
  wideInt,
} from '../util.js'
import { all, type CheckDef, type Ctx, generic, needFacts, needFixture, sec } from './define.js'

const L = 'geometry and encodings' as const

/** Rows of a vector table; the fixture is present whenever a check that reads it runs. */
function fx(ctx: Ctx) {
  if (!ctx.fixture) throw new Error('fixture missing')
  return ctx.fixture
}
function facts(ctx: Ctx) {
  if (!ctx.facts) throw new Error('facts missing')
  return ctx.facts
}

/** The user protections every layout has: what mk_pte is called with for user pages. */
function userProts(arch: Arch): bigint[] {
  const p = arch.prot
  return [p.PAGE_NONE, p.PAGE_READONLY, p.PAGE_COPY, p.PAGE_SHARED, p.PAGE_KERNEL]
}

/** Geometry fields a vector file's `constants` may name, compared directly. */
const DIRECT = [
  'PAGE_SHIFT',
  'PAGE_SIZE',
  'PAGE_MASK',
  'PGDIR_SHIFT',
  'PMD_SHIFT',
  'PTRS_PER_PGD',
  'PTRS_PER_PMD',
  'PTRS_PER_PTE',
  'TASK_SIZE',
  'PAGE_OFFSET',
  'USER_PTRS_PER_PGD',
  'PTE_FILE_MAX_BITS',
  'PTE_BITS',
  'PMD_ENTRY_BITS',
  'PGD_ENTRY_BITS',
  'SWAP_MAXPAGES_LIMIT',
] as const

/** A vector-file constant as the contract computes it, or undefined when the contract has no such value. */
function contractConstant(arch: Arch, name: string): bigint | undefined {
  const g = arch.geometry
  if ((DIRECT as readonly string[]).includes(name)) return BigInt(g[name as (typeof DIRECT)[number]])
  const mask = (shift: number) => ulong(arch, ~((1n << BigInt(shift)) - 1n))
  switch (name) {
    case 'MAX_SWAPFILES_SHIFT':
      return BigInt(MAX_SWAPFILES_SHIFT)
    case 'PMD_SIZE':
      return 1n << BigInt(g.PMD_SHIFT)
    case 'PMD_MASK':
      return mask(g.PMD_SHIFT)
    case 'PGDIR_SIZE':
      return 1n << BigInt(g.PGDIR_SHIFT)
    case 'PGDIR_MASK':
      return mask(g.PGDIR_SHIFT)
    case 'KERNELBASE':
      return g.PAGE_OFFSET
    case 'TASK_SIZE_USER64':
      return g.TASK_SIZE
    default:
      return undefined
  }
}

function checkEntry(what: string, fmt: EntryFormat, lo: number, hi: number, pfn: number): void {
  expect(join(lo, hi), `${what} for pfn ${hex(pfn)}`).toBe((BigInt(pfn) << BigInt(fmt.shift)) | h(fmt.flags))
}

export const encodingChecks: CheckDef[] = [
  {
    id: 'geo.constants',
    layer: L,
    cite: (c) => sec(c, 'Layout and sizes'),
    title: 'geometry has the published constants (sizes, shifts, masks, TASK_SIZE, PAGE_OFFSET, limits)',
    needs: needFixture,
    run(ctx) {
      const want: Record<string, string> = {}
      const got: Record<string, string> = {}
      for (const [name, v] of Object.entries(fx(ctx).constants)) {
        const mine = contractConstant(ctx.arch, name)
        if (mine === undefined) continue
        want[name] = hex(h(v))
        got[name] = hex(mine)
      }
      expect(Object.keys(want).length, 'constants compared').toBeGreaterThanOrEqual(10)
      expect(got).toEqual(want)
    },
  },
  {
    id: 'geo.facts',
    layer: L,
    cite: (c) => sec(c, 'Layout and sizes'),
    title:
      'levels, BITS_PER_LONG, entry widths, pfn shift, MAX_PTE_PFN and SWP_OFFSET_MAX are those the facts state',
    needs: needFacts,
    run(ctx) {
      const f = facts(ctx)
      const g = ctx.arch.geometry
      expect({
        levels: g.levels,
        BITS_PER_LONG: g.BITS_PER_LONG,
        PMD_ENTRY_BITS: g.PMD_ENTRY_BITS,
        PGD_ENTRY_BITS: g.PGD_ENTRY_BITS,
        PTE_PFN_SHIFT: g.PTE_PFN_SHIFT,
        MAX_PTE_PFN: hex(g.MAX_PTE_PFN),
        SWP_OFFSET_MAX: hex(g.SWP_OFFSET_MAX),
      }).toEqual({
        levels: f.levels,
        BITS_PER_LONG: f.BITS_PER_LONG,
        PMD_ENTRY_BITS: f.PMD_ENTRY_BITS,
        PGD_ENTRY_BITS: f.PGD_ENTRY_BITS,
        PTE_PFN_SHIFT: f.PTE_PFN_SHIFT,
        MAX_PTE_PFN: hex(h(f.MAX_PTE_PFN)),
        SWP_OFFSET_MAX: hex(h(f.SWP_OFFSET_MAX)),
      })
    },
  },
  {
    id: 'geo.capabilities',
    layer: L,
    cite: (c) => sec(c, 'and docs/layouts.md#mmu-cache-coherence hash-table facts'),
    title: 'MMU kind, pte-page tagging, the early-boot rule and pgd-time pmds are those the facts state',
    needs: needFacts,
    run(ctx) {
      const f = facts(ctx)
      const { arch } = ctx
      expect({
        mmu: arch.mmu.kind,
        hashMmu: arch.capabilities.hashMmu,
        tagsPtePages: arch.pgtable.tagsPtePages,
        ptepToMmAddress: arch.capabilities.ptepToMmAddress,
        brokenPteAllocOneEarly: arch.pgtable.brokenPteAllocOneEarly,
        pgdPreallocPmds: arch.pgtable.pgdPreallocPmds,
      }).toEqual({
        mmu: f.mmu,
        hashMmu: f.mmu === 'hash',
        tagsPtePages: f.tagsPtePages,
        ptepToMmAddress: f.tagsPtePages,
        brokenPteAllocOneEarly: f.brokenPteAllocOneEarly,
        pgdPreallocPmds: f.pgdPreallocPmds,
      })
    },
  },
  {
    id: 'geo.derived',
    layer: L,
    cite: generic(
      'docs/layouts.md#swap-entries, docs/layouts.md#finding-a-ptes-mm-and-address (PTRS_PER_PTE·sizeof(pte_t) = PAGE_SIZE)',
    ),
    title:
      'the geometry is self-consistent: sizes from shifts, one pte page per PMD span, SWAP_MAXPAGES_LIMIT',
    run({ arch }) {
      const g = arch.geometry
      const log2 = (n: number) => Math.log2(n)
      expect(g.PAGE_SIZE).toBe(1n << BigInt(g.PAGE_SHIFT))
      expect(g.PAGE_MASK).toBe(ulong(arch, ~(g.PAGE_SIZE - 1n)))
      expect(BigInt(g.PTRS_PER_PTE * (g.PTE_BITS / 8))).toBe(g.PAGE_SIZE)
      expect(g.PMD_SHIFT).toBe(g.PAGE_SHIFT + log2(g.PTRS_PER_PTE))
      expect(g.PGDIR_SHIFT).toBe(g.PMD_SHIFT + log2(g.PTRS_PER_PMD))
      expect(g.levels === 2).toBe(g.PTRS_PER_PMD === 1)
      expect(BigInt(g.USER_PTRS_PER_PGD)).toBe(
        (g.TASK_SIZE + (1n << BigInt(g.PGDIR_SHIFT)) - 1n) >> BigInt(g.PGDIR_SHIFT),
      )
      expect(g.SWAP_MAXPAGES_LIMIT).toBe(g.SWP_OFFSET_MAX - 1n)
      expect(g.TASK_SIZE <= g.PAGE_OFFSET).toBe(true)
      expect(MAX_SWAPFILES).toBe(1 << MAX_SWAPFILES_SHIFT)
    },
  },
  {
    id: 'geo.contract',
    layer: L,
    cite: () => 'arch contract ArchCapabilities',
    title: 'capabilities agree with the parts they describe (wordPtes, highpte, hashMmu, ptepToMmAddress)',
    run({ arch }) {
      const c = arch.capabilities
      expect(arch.fast.words * 32).toBe(arch.geometry.PTE_BITS)
      expect(c.wordPtes).toBe(arch.fast.words === 2)
      expect(c.highpte).toBe(arch.pgtable.highpte)
      expect(c.hashMmu).toBe(arch.mmu.kind === 'hash')
      expect(c.ptepToMmAddress).toBe(arch.pgtable.tagsPtePages)
      if (c.highpte)
        expect(arch.pgtable.pteOffsetMapKmaps, 'a highpte arch kmaps in pte_offset_map').toBe(true)
      expect(arch.profiles.length).toBeGreaterThan(0)
    },
  },
  {
    id: 'enc.bits',
    layer: L,
    cite: (c) => sec(c, 'PTE bits'),
    title: 'every _PAGE_* of the header has the published value',
    needs: needFixture,
    run(ctx) {
      const want: Record<string, string> = {}
      const got: Record<string, string> = {}
      for (const [name, v] of Object.entries(fx(ctx).bits)) {
        const mine = ctx.arch.bits[name]
        // _PAGE_* are required; other masks (_PTE_NONE_MASK, _PMD_*, _KERNPG_TABLE) when the arch lists them.
        if (mine === undefined && !name.startsWith('_PAGE_')) continue
        want[name] = hex(h(v))
        got[name] = mine === undefined ? 'missing' : hex(mine)
      }
      expect(got).toEqual(want)
    },
  },
  {
    id: 'enc.prot',
    layer: L,
    cite: (c) => sec(c, 'Protection values'),
    title: 'every PAGE_* protection has the published raw value',
    needs: needFixture,
    run(ctx) {
      const want: Record<string, string> = {}
      const got: Record<string, string> = {}
      for (const [name, v] of Object.entries(fx(ctx).prot)) {
        want[name] = hex(h(v))
        const mine = ctx.arch.prot[name]
        got[name] = mine === undefined ? 'missing' : hex(mine)
      }
      expect(got).toEqual(want)
    },
  },
  {
    id: 'enc.protmap',
    layer: L,
    cite: (c) => sec(c, 'Protection maps'),
    title: 'protection_map __P000..__P111 and __S000..__S111 are the published protections',
    needs: all(needFixture, needFacts),
    run(ctx) {
      const f = facts(ctx)
      const prot = fx(ctx).prot
      const name = (n: string) => {
        const v = prot[n]
        if (v === undefined) throw new Error(`fixture has no ${n}`)
        return hex(h(v))
      }
      const m = ctx.arch.protectionMap
      expect({ private: m.private.map(hex), shared: m.shared.map(hex) }).toEqual({
        private: f.protectionMap.private.map(name),
        shared: f.protectionMap.shared.map(name),
      })
    },
  },
  {
    id: 'enc.pte-none',
    layer: L,
    cite: (c) => sec(c, 'Predicates (pte_none)'),
    title: 'pte_none ignores exactly the bits the arch says (ppc HASHPTE, ppc64 HPTEFLAGS, nothing on i386)',
    needs: needFacts,
    run(ctx) {
      const { arch } = ctx
      const ignores = h(facts(ctx).pteNoneIgnores)
      expect(arch.pteNone(0n)).toBe(true)
      expect(arch.pteNone(ignores)).toBe(true)
      for (let i = 0; i < arch.geometry.PTE_BITS; i++) {
        const bit = 1n << BigInt(i)
        expect(arch.pteNone(bit), `pte_none(${hex(bit)})`).toBe((ignores & bit) !== 0n)
        expect(arch.macros.pteNone(bit), `macros.pteNone(${hex(bit)})`).toBe((ignores & bit) !== 0n)
      }
    },
  },
  {
    id: 'enc.mkpte.vectors',
    layer: L,
    cite: (c) => sec(c, 'pfn placement'),
    title: 'mkPte and ptePfn give the published rows (pte_low/pte_high on PAE)',
    needs: needFixture,
    run(ctx) {
      const { arch } = ctx
      const rows = fx(ctx).mk_pte.filter((r) => r.pfn_back === r.pfn)
      expect(rows.length).toBeGreaterThan(0)
      for (const r of rows) {
        const at = `mk_pte(${r.pfn}, ${r.prot})`
        expect(hex(arch.mkPte(h(r.pfn), h(r.prot_val))), at).toBe(hex(h(r.pte)))
        expect(hex(arch.macros.mkPte(h(r.pfn), h(r.prot_val))), `macros ${at}`).toBe(hex(h(r.pte)))
        expect(hex(arch.ptePfn(h(r.pte))), `pte_pfn of ${at}`).toBe(hex(h(r.pfn_back)))
        if (r.pte_low !== undefined) expect(hex(lo32(h(r.pte))), `pte_low of ${at}`).toBe(hex(h(r.pte_low)))
        if (r.pte_high !== undefined)
          expect(hex(hi32(h(r.pte))), `pte_high of ${at}`).toBe(hex(h(r.pte_high)))
      }
    },
  },
  {
    id: 'enc.mkpte.truncation',
    layer: L,
    cite: (c) => sec(c, 'pfn placement (largest pfn)'),
    title: 'rows past the largest pfn show the C truncation in arch.macros and are refused by mkPte',
    needs: (ctx) =>
      needFixture(ctx) ??
      (fx(ctx).mk_pte.some((r) => r.pfn_back !== r.pfn) ? undefined : 'no mk_pte row goes past a limit'),
    run(ctx) {
      const { arch } = ctx
      for (const r of fx(ctx).mk_pte.filter((x) => x.pfn_back !== x.pfn)) {
        const at = `mk_pte(${r.pfn}, ${r.prot})`
        expect(hex(arch.macros.mkPte(h(r.pfn), h(r.prot_val))), `macros ${at}`).toBe(hex(h(r.pte)))
        expect(hex(arch.macros.ptePfn(h(r.pte))), `macros pte_pfn of ${at}`).toBe(hex(h(r.pfn_back)))
        expect(hex(arch.ptePfn(h(r.pte))), `pte_pfn of ${at}`).toBe(hex(h(r.pfn_back)))
        expectLimit(arch, () => arch.mkPte(h(r.pfn), h(r.prot_val)), {
          fn: 'mkPte',
          argument: 'pfn',
          mentions: hex(arch.geometry.MAX_PTE_PFN),
        })
      }
    },
  },
  {
    id: 'enc.pte.predicates',
    layer: L,
    cite: (c) => sec(c, 'Predicates'),
    title: 'pte_present, pte_young, pte_dirty and pte_write of every mk_pte row are the published ones',
    needs: needFixture,
    run(ctx) {
      const { arch } = ctx
      for (const r of fx(ctx).mk_pte) {
        const pte = h(r.pte)
        const got = {
          present: arch.ptePresent(pte),
          young: arch.pteYoung(pte),
          dirty: arch.pteDirty(pte),
          write: arch.pteWrite(pte),
        }
        const { present, young, dirty, write } = r
        expect(got, `pte ${r.pte} (${r.prot})`).toEqual({ present, young, dirty, write })
      }
    },
  },
  {
    id: 'enc.swp.vectors',
    layer: L,
    cite: (c) => sec(c, 'Swap encoding; docs/layouts.md#swap-entries generic swap entry'),
    title: 'swap entries give the published arch_entry, generic_val, pte, back and generic_back',
    needs: needFixture,
    run(ctx) {
      const { arch } = ctx
      const s = arch.macros.swap
      const rows = fx(ctx).swp.filter((r) => h(r.back.offset) === h(r.offset) && r.back.type === r.type)
      expect(rows.length).toBeGreaterThan(0)
      for (const r of rows) {
        const t = r.type
        const o = h(r.offset)
        const at = `swp(${t}, ${r.offset})`
        expect(hex(s.archEntry(t, o)), `__swp_entry ${at}`).toBe(hex(h(r.arch_entry)))
        expect(hex(s.genericVal(t, o)), `swp_entry().val ${at}`).toBe(hex(h(r.generic_val)))
        expect(hex(s.archEntryToPte(h(r.arch_entry))), `__swp_entry_to_pte ${at}`).toBe(hex(h(r.pte)))
        expect(hex(s.pteToArchEntry(h(r.pte))), `__pte_to_swp_entry ${at}`).toBe(hex(h(r.arch_entry)))
        expect(hex(arch.swpEntryToPte(t, o)), `swp_entry_to_pte ${at}`).toBe(hex(h(r.pte)))
        expect(hex(arch.macros.swpEntryToPte(t, o)), `macros swp_entry_to_pte ${at}`).toBe(hex(h(r.pte)))
      }
    },
  },
  {
    id: 'enc.swp.back',
    layer: L,
    cite: (c) => sec(c, 'Swap encoding; docs/layouts.md#swap-entries generic swap entry'),
    title: 'every swap row decodes to the published back, generic_back and present/file/none',
    needs: needFixture,
    run(ctx) {
      const { arch } = ctx
      const s = arch.macros.swap
      for (const r of fx(ctx).swp) {
        const pte = h(r.pte)
        const e = s.pteToArchEntry(pte)
        const at = `pte ${r.pte} of swp(${r.type}, ${r.offset})`
        expect({ type: s.archType(e), offset: hex(s.archOffset(e)) }, `back ${at}`).toEqual({
          type: r.back.type,
          offset: hex(h(r.back.offset)),
        })
        const gb = { type: r.generic_back.type, offset: hex(h(r.generic_back.offset)) }
        const strict = arch.pteToSwpEntry(pte)
        const loose = arch.macros.pteToSwpEntry(pte)
        expect({ type: strict.type, offset: hex(strict.offset) }, `generic_back ${at}`).toEqual(gb)
        expect({ type: loose.type, offset: hex(loose.offset) }, `macros generic_back ${at}`).toEqual(gb)
        const got = { present: arch.ptePresent(pte), file: arch.pteFile(pte), none: arch.pteNone(pte) }
        expect(got, at).toEqual({ present: r.present, file: r.file, none: r.none })
      }
    },
  },
  {
    id: 'enc.swp.truncation',
    layer: L,
    cite: (c) => sec(c, 'Swap encoding (offset field width)'),
    title:
      'swap rows past SWP_OFFSET_MAX show the C truncation in arch.macros and are refused by swpEntryToPte',
    needs: (ctx) =>
      needFixture(ctx) ??
      (fx(ctx).swp.some((r) => h(r.back.offset) !== h(r.offset))
        ? undefined
        : 'no swap row goes past a limit'),
    run(ctx) {
      const { arch } = ctx
      const s = arch.macros.swap
      for (const r of fx(ctx).swp.filter((x) => h(x.back.offset) !== h(x.offset))) {
        const o = h(r.offset)
        const at = `swp(${r.type}, ${r.offset})`
        expect(hex(s.archEntry(r.type, o)), `__swp_entry ${at}`).toBe(hex(h(r.arch_entry)))
        expect(hex(s.genericVal(r.type, o)), `swp_entry().val ${at}`).toBe(hex(h(r.generic_val)))
        expect(hex(arch.macros.swpEntryToPte(r.type, o)), `macros ${at}`).toBe(hex(h(r.pte)))
        expectLimit(arch, () => arch.swpEntryToPte(r.type, o), {
          fn: 'swpEntryToPte',
          argument: 'offset',
          mentions: hex(arch.geometry.SWP_OFFSET_MAX),
        })
      }
    },
  },
  {
    id: 'enc.pgoff.vectors',
    layer: L,
    cite: (c) => sec(c, 'Nonlinear file pte'),
    title: 'pgoffToPte and pteToPgoff give the published rows; file ptes are file and not present',
    needs: needFixture,
    run(ctx) {
      const { arch } = ctx
      for (const r of fx(ctx).pgoff) {
        const pte = h(r.pte)
        const at = `pgoff ${r.pgoff}`
        expect(hex(arch.pteToPgoff(pte)), `pte_to_pgoff ${at}`).toBe(hex(h(r.back)))
        expect({ present: arch.ptePresent(pte), file: arch.pteFile(pte) }, at).toEqual({
          present: r.present,
          file: r.file,
        })
        if (h(r.back) === h(r.pgoff)) {
          expect(hex(arch.pgoffToPte(h(r.pgoff))), `pgoff_to_pte ${at}`).toBe(hex(pte))
          expect(hex(arch.macros.pgoffToPte(h(r.pgoff))), `macros pgoff_to_pte ${at}`).toBe(hex(pte))
        }
      }
    },
  },
  {
    id: 'enc.pgoff.truncation',
    layer: L,
    cite: (c) => sec(c, 'Nonlinear file pte (PTE_FILE_MAX_BITS)'),
    title: 'pgoff rows at or past 2^PTE_FILE_MAX_BITS show the C truncation and are refused by pgoffToPte',
    needs: (ctx) =>
      needFixture(ctx) ??
      (fx(ctx).pgoff.some((r) => h(r.back) !== h(r.pgoff)) ? undefined : 'no pgoff row goes past a limit'),
    run(ctx) {
      const { arch } = ctx
      for (const r of fx(ctx).pgoff.filter((x) => h(x.back) !== h(x.pgoff))) {
        const at = `pgoff ${r.pgoff}`
        expect(hex(arch.macros.pgoffToPte(h(r.pgoff))), `macros pgoff_to_pte ${at}`).toBe(hex(h(r.pte)))
        expect(hex(arch.macros.pteToPgoff(h(r.pte))), `macros pte_to_pgoff ${at}`).toBe(hex(h(r.back)))
        expectLimit(arch, () => arch.pgoffToPte(h(r.pgoff)), {
          fn: 'pgoffToPte',
          argument: 'pgoff',
          mentions: 'PTE_FILE_MAX_BITS',
        })
      }
    },
  },
  {
    id: 'enc.index.vectors',
    layer: L,
    cite: (c) => sec(c, 'Index formulas'),
    title: 'pgd, pmd and pte indices of the published addresses',
    needs: needFixture,
    run(ctx) {
      const { arch } = ctx
      for (const r of fx(ctx).index) {
        const a = h(r.addr)
        const want = { pgd: r.pgd, pmd: r.pmd, pte: r.pte }
        expect({ pgd: arch.pgdIndex(a), pmd: arch.pmdIndex(a), pte: arch.pteIndex(a) }, r.addr).toEqual(want)
        const m = arch.macros
        expect({ pgd: m.pgdIndex(a), pmd: m.pmdIndex(a), pte: m.pteIndex(a) }, `macros ${r.addr}`).toEqual(
          want,
        )
      }
    },
  },
  {
    id: 'enc.ptep.formula',
    layer: L,
    cite: generic(
      'docs/layouts.md#finding-a-ptes-mm-and-address ptep_to_address, docs/layouts.md#mmu-cache-coherence',
    ),
    title:
      'page->index, byte offset and ptep_to_address (2.6.5, 2.6.6 and the arch formulas) of the published addresses',
    needs: needFixture,
    run(ctx) {
      const { arch } = ctx
      const g = arch.geometry
      const span = BigInt(g.PTRS_PER_PTE) * g.PAGE_SIZE
      const size = BigInt(g.PTE_BITS / 8)
      for (const r of fx(ctx).ptep_to_address) {
        const a = h(r.addr)
        const pageIndex = ulong(arch, a & ~(span - 1n))
        const byteOffset = BigInt(arch.pteIndex(a)) * size
        const got: Record<string, string> = {
          page_index: hex(pageIndex),
          byte_offset: hex(byteOffset),
          generic_2_6_5: hex(pageIndex + byteOffset * BigInt(g.PTRS_PER_PTE)),
          generic_2_6_6: hex(
            pageIndex + (byteOffset & (BigInt(g.PTRS_PER_PTE) * size - 1n)) * (g.PAGE_SIZE / size),
          ),
        }
        const want: Record<string, string> = {
          page_index: hex(h(r.page_index)),
          byte_offset: hex(h(r.byte_offset)),
          generic_2_6_5: hex(h(r.generic_2_6_5)),
          generic_2_6_6: hex(h(r.generic_2_6_6)),
        }
        // The arch formulas of docs/layouts.md#mmu-cache-coherence: ppc's flush_hash_one_pte shifts the byte
        // offset by 9 (as written); ppc64's 2.6.7 hpte_update multiplies by PTRS_PER_PTE.
        const ppc = r['ppc_flush_hash_one_pte']
        if (ppc !== undefined) {
          got['ppc_flush_hash_one_pte'] = hex(pageIndex + (byteOffset << 9n))
          want['ppc_flush_hash_one_pte'] = hex(h(ppc))
        }
        const ppc64 = r['ppc64_hpte_update_2_6_7']
        if (ppc64 !== undefined) {
          got['ppc64_hpte_update_2_6_7'] = hex(pageIndex + byteOffset * BigInt(g.PTRS_PER_PTE))
          want['ppc64_hpte_update_2_6_7'] = hex(h(ppc64))
        }
        expect(got, r.addr).toEqual(want)
      }
    },
  },
  {
    id: 'enc.entries',
    layer: L,
    cite: (c) => sec(c, 'pmd_populate / pgd entries'),
    title: 'pmd (and pgd) entries hold the pfn where the facts put it, and decode back',
    needs: needFacts,
    run(ctx) {
      const { arch } = ctx
      const f = facts(ctx)
      const fast = arch.fast
      const maxPfn = Number(minBig(arch.geometry.MAX_PTE_PFN, (1n << 24n) - 1n))
      fc.assert(
        fc.property(wideInt({ min: 0, max: maxPfn }), (pfn) => {
          const lo = fast.pmdEntryLo(pfn)
          const hi = fast.pmdEntryHi(pfn)
          checkEntry('pmd entry', f.pmdEntry, lo, hi, pfn)
          expect(fast.pmdPfn(lo, hi)).toBe(pfn)
          if (arch.geometry.levels === 3 && f.pgdEntry) {
            const glo = fast.pgdEntryLo(pfn)
            const ghi = fast.pgdEntryHi(pfn)
            checkEntry('pgd entry', f.pgdEntry, glo, ghi, pfn)
            expect(fast.pgdPfn(glo, ghi)).toBe(pfn)
          }
        }),
        ctx.fcParams,
      )
    },
  },
  // --- properties -------------------------------------------------------------
  {
    id: 'prop.pfn.roundtrip',
    layer: L,
    cite: (c) => sec(c, 'pfn placement'),
    title:
      'mkPte puts the pfn at PTE_PFN_SHIFT over the prot bits, and ptePfn gets it back up to MAX_PTE_PFN',
    run(ctx) {
      const { arch } = ctx
      const shift = BigInt(arch.geometry.PTE_PFN_SHIFT)
      fc.assert(
        fc.property(
          wideBig({ min: 0n, max: arch.geometry.MAX_PTE_PFN }),
          fc.constantFrom(...userProts(arch)),
          (pfn, prot) => {
            const pte = arch.mkPte(pfn, prot)
            expect(pte).toBe((pfn << shift) | prot)
            expect(arch.ptePfn(pte)).toBe(pfn)
            expect(arch.ptePresent(pte)).toBe(true)
            expect(arch.pteNone(pte)).toBe(false)
            expect(arch.macros.mkPte(pfn, prot)).toBe(pte)
          },
        ),
        ctx.fcParams,
      )
    },
  },
  {
    id: 'prop.swp.roundtrip',
    layer: L,
    cite: generic('docs/layouts.md#swap-entries generic swap entry'),
    title: 'every (type < 32, offset <= SWP_OFFSET_MAX) survives swp_entry_to_pte and pte_to_swp_entry',
    run(ctx) {
      const { arch } = ctx
      const s = arch.macros.swap
      const typeShift = BigInt(arch.geometry.BITS_PER_LONG - MAX_SWAPFILES_SHIFT)
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: MAX_SWAPFILES - 1 }),
          wideBig({ min: 0n, max: arch.geometry.SWP_OFFSET_MAX }),
          (type, offset) => {
            const pte = arch.swpEntryToPte(type, offset)
            expect(arch.pteToSwpEntry(pte)).toEqual({ type, offset })
            expect(arch.macros.swpEntryToPte(type, offset)).toBe(pte)
            const e = s.pteToArchEntry(pte)
            expect({ type: s.archType(e), offset: s.archOffset(e) }).toEqual({ type, offset })
            const val = s.genericVal(type, offset)
            expect(val >> typeShift).toBe(BigInt(type))
            expect(val & ((1n << typeShift) - 1n)).toBe(offset)
          },
        ),
        ctx.fcParams,
      )
    },
  },
  {
    id: 'prop.pgoff.roundtrip',
    layer: L,
    cite: (c) => sec(c, 'Nonlinear file pte'),
    title: 'every pgoff below 2^PTE_FILE_MAX_BITS survives pgoff_to_pte and pte_to_pgoff',
    run(ctx) {
      const { arch } = ctx
      fc.assert(
        fc.property(
          wideBig({ min: 0n, max: (1n << BigInt(arch.geometry.PTE_FILE_MAX_BITS)) - 1n }),
          (pgoff) => {
            const pte = arch.pgoffToPte(pgoff)
            expect(arch.pteToPgoff(pte)).toBe(pgoff)
            expect(arch.macros.pgoffToPte(pgoff)).toBe(pte)
          },
        ),
        ctx.fcParams,
      )
    },
  },
  {
    id: 'prop.index.recompose',
    layer: L,
    cite: (c) => sec(c, 'Index formulas'),
    title:
      'the indices of a user address recompose it: pgd<<PGDIR_SHIFT | pmd<<PMD_SHIFT | pte<<PAGE_SHIFT | offset',
    run(ctx) {
      const { arch } = ctx
      const g = arch.geometry
      fc.assert(
        fc.property(wideBig({ min: 0n, max: g.TASK_SIZE - 1n }), (a) => {
          const pgd = arch.pgdIndex(a)
          const pmd = arch.pmdIndex(a)
          const pte = arch.pteIndex(a)
          expect(pgd).toBeLessThan(g.USER_PTRS_PER_PGD)
          expect(pmd).toBeLessThan(g.PTRS_PER_PMD)
          expect(pte).toBeLessThan(g.PTRS_PER_PTE)
          const back =
            (BigInt(pgd) << BigInt(g.PGDIR_SHIFT)) +
            (g.levels === 3 ? BigInt(pmd) << BigInt(g.PMD_SHIFT) : 0n) +
            (BigInt(pte) << BigInt(g.PAGE_SHIFT)) +
            (a & (g.PAGE_SIZE - 1n))
          expect(back).toBe(a)
        }),
        ctx.fcParams,
      )
    },
  },
  {
    id: 'prop.index.edges',
    layer: L,
    cite: (c) => sec(c, 'Index formulas'),
    title: 'edge addresses: 0, TASK_SIZE-1, and both sides of page, pmd and pgd boundaries',
    run(ctx) {
      const { arch } = ctx
      const g = arch.geometry
      const idx = (a: bigint) => [arch.pgdIndex(a), arch.pmdIndex(a), arch.pteIndex(a)]
      expect(idx(0n)).toEqual([0, 0, 0])
      const lastPmd = g.levels === 3 ? g.PTRS_PER_PMD - 1 : 0
      expect(idx(g.TASK_SIZE - 1n)).toEqual([g.USER_PTRS_PER_PGD - 1, lastPmd, g.PTRS_PER_PTE - 1])
      expect(idx(g.TASK_SIZE - g.PAGE_SIZE)).toEqual(idx(g.TASK_SIZE - 1n))
      expect(idx(g.PAGE_SIZE - 1n)).toEqual([0, 0, 0])
      expect(idx(g.PAGE_SIZE)).toEqual([0, 0, 1])
      const pmdSpan = 1n << BigInt(g.PMD_SHIFT)
      const pgdSpan = 1n << BigInt(g.PGDIR_SHIFT)
      expect(idx(pmdSpan - 1n)).toEqual([0, 0, g.PTRS_PER_PTE - 1])
      expect(idx(pmdSpan)).toEqual(g.levels === 3 ? [0, 1, 0] : [1, 0, 0])
      expect(idx(pgdSpan - 1n)).toEqual([0, lastPmd, g.PTRS_PER_PTE - 1])
      expect(idx(pgdSpan)).toEqual([1, 0, 0])
      fc.assert(
        fc.property(wideBig({ min: 1n, max: g.TASK_SIZE / g.PAGE_SIZE - 1n }), (page) => {
          const a = page * g.PAGE_SIZE
          const [, , before] = idx(a - 1n)
          const [, , at] = idx(a)
          expect(at).toBe((before! + 1) % g.PTRS_PER_PTE)
          expect(idx(a)).toEqual(idx(a + g.PAGE_SIZE - 1n))
        }),
        ctx.fcParams,
      )
    },
  },
  {
    id: 'prop.exclusive',
    layer: L,
    cite: (c) => sec(c, 'Predicates; _PAGE_FILE only meaningful when not present'),
    title: 'present, swap and file ptes are told apart as the kernel does (pte_present, pte_file, pte_none)',
    run(ctx) {
      const { arch } = ctx
      const g = arch.geometry
      const kind = fc.oneof(
        fc
          .tuple(wideBig({ min: 0n, max: g.MAX_PTE_PFN }), fc.constantFrom(...userProts(arch)))
          .map(([pfn, prot]) => ({ kind: 'present' as const, pte: arch.mkPte(pfn, prot), zero: false })),
        fc
          .tuple(fc.integer({ min: 0, max: MAX_SWAPFILES - 1 }), wideBig({ min: 0n, max: g.SWP_OFFSET_MAX }))
          .map(([t, o]) => ({
            kind: 'swap' as const,
            pte: arch.swpEntryToPte(t, o),
            zero: t === 0 && o === 0n,
          })),
        fc
          .bigInt({ min: 0n, max: (1n << BigInt(g.PTE_FILE_MAX_BITS)) - 1n })
          .map((p) => ({ kind: 'file' as const, pte: arch.pgoffToPte(p), zero: false })),
      )
      fc.assert(
        fc.property(kind, ({ kind: k, pte, zero }) => {
          const present = arch.ptePresent(pte)
          const none = arch.pteNone(pte)
          if (k === 'present') {
            expect({ present, none }).toEqual({ present: true, none: false })
          } else {
            // pte_file is only meaningful on a pte that is not present.
            const file = arch.pteFile(pte)
            expect({ present, file, none }).toEqual({ present: false, file: k === 'file', none: zero })
          }
        }),
        ctx.fcParams,
      )
    },
  },
  // --- limits ---------------------------------------------------------------
  {
    id: 'lim.pfn',
    layer: L,
    cite: (c) => sec(c, 'pfn placement (largest pfn)'),
    title: 'MAX_PTE_PFN is accepted and round-trips; MAX_PTE_PFN+1 is refused (and truncated by arch.macros)',
    run(ctx) {
      const { arch } = ctx
      const max = arch.geometry.MAX_PTE_PFN
      const prot = arch.prot.PAGE_COPY
      expect(arch.ptePfn(arch.mkPte(max, prot))).toBe(max)
      expect(arch.macros.ptePfn(arch.macros.mkPte(max + 1n, prot))).not.toBe(max + 1n)
      fc.assert(
        fc.property(wideBig({ min: max + 1n, max: max * 4n + 4n }), (pfn) =>
          expectLimit(arch, () => arch.mkPte(pfn, prot), {
            fn: 'mkPte',
            argument: 'pfn',
            mentions: hex(max),
          }),
        ),
        ctx.fcParams,
      )
      const field = 1n << BigInt(arch.geometry.PTE_PFN_SHIFT)
      expectLimit(arch, () => arch.mkPte(0n, field), { fn: 'mkPte', argument: 'prot' })
    },
  },
  {
    id: 'lim.swp-offset',
    layer: L,
    cite: generic('docs/layouts.md#swap-entries largest usable offset (sys_swapon maxpages)'),
    title:
      'SWP_OFFSET_MAX round-trips, SWP_OFFSET_MAX+1 is refused, and SWAP_MAXPAGES_LIMIT is the sys_swapon bound',
    run(ctx) {
      const { arch } = ctx
      const g = arch.geometry
      const max = g.SWP_OFFSET_MAX
      expect(arch.pteToSwpEntry(arch.swpEntryToPte(31, max))).toEqual({ type: 31, offset: max })
      // sys_swapon: swp_offset(pte_to_swp_entry(swp_entry_to_pte(swp_entry(0, ~0UL)))) - 1.
      const allOnes = (1n << BigInt(g.BITS_PER_LONG)) - 1n
      const survived = arch.macros.pteToSwpEntry(arch.macros.swpEntryToPte(0, allOnes)).offset
      expect(hex(survived)).toBe(hex(max))
      expect(hex(survived - 1n)).toBe(hex(g.SWAP_MAXPAGES_LIMIT))
      const fixtureLimit = ctx.fixture?.constants['SWAP_MAXPAGES_LIMIT']
      if (fixtureLimit !== undefined) expect(hex(survived - 1n)).toBe(hex(h(fixtureLimit)))
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 31 }), wideBig({ min: max + 1n, max: allOnes }), (t, o) =>
          expectLimit(arch, () => arch.swpEntryToPte(t, o), {
            fn: 'swpEntryToPte',
            argument: 'offset',
            mentions: hex(max),
          }),
        ),
        ctx.fcParams,
      )
    },
  },
  {
    id: 'lim.swp-type',
    layer: L,
    cite: generic('docs/layouts.md#swap-entries MAX_SWAPFILES_SHIFT = 5'),
    title: 'swap types 0..31 are accepted; 32 and above, negative, fractional and non-numbers are refused',
    run(ctx) {
      const { arch } = ctx
      for (let t = 0; t < MAX_SWAPFILES; t++)
        expect(arch.pteToSwpEntry(arch.swpEntryToPte(t, 1n)).type).toBe(t)
      const bad = fc.oneof(
        fc.integer({ min: MAX_SWAPFILES, max: 2 ** 31 - 1 }),
        fc.integer({ min: -(2 ** 31), max: -1 }),
        fc.double({ min: 0, max: 31, noInteger: true }),
        fc.constantFrom<unknown>(Number.NaN, Number.POSITIVE_INFINITY, '1', 1n, null, undefined),
      )
      fc.assert(
        fc.property(bad, (t) =>
          expectLimit(arch, () => arch.swpEntryToPte(t as number, 1n), {
            fn: 'swpEntryToPte',
            argument: 'type',
            mentions: 'MAX_SWAPFILES',
          }),
        ),
        ctx.fcParams,
      )
    },
  },
  {
    id: 'lim.pgoff',
    layer: L,
    cite: (c) => sec(c, 'Nonlinear file pte (PTE_FILE_MAX_BITS)'),
    title:
      '2^PTE_FILE_MAX_BITS-1 round-trips; 2^PTE_FILE_MAX_BITS and above are refused (and truncated by macros)',
    run(ctx) {
      const { arch } = ctx
      const limit = 1n << BigInt(arch.geometry.PTE_FILE_MAX_BITS)
      expect(arch.pteToPgoff(arch.pgoffToPte(limit - 1n))).toBe(limit - 1n)
      expect(arch.macros.pteToPgoff(arch.macros.pgoffToPte(limit))).not.toBe(limit)
      fc.assert(
        fc.property(wideBig({ min: limit, max: limit * 16n }), (p) =>
          expectLimit(arch, () => arch.pgoffToPte(p), {
            fn: 'pgoffToPte',
            argument: 'pgoff',
            mentions: 'PTE_FILE_MAX_BITS',
          }),
        ),
        ctx.fcParams,
      )
    },
  },
  {
    id: 'lim.args',
    layer: L,
    cite: () => 'arch contract strict surface (ArchLimitError)',
    title:
      'negative, fractional, non-bigint and too-wide arguments are refused with ArchLimitError naming them',
    run(ctx) {
      const { arch } = ctx
      const g = arch.geometry
      const pteLimit = 1n << BigInt(g.PTE_BITS)
      const addrLimit = 1n << BigInt(g.BITS_PER_LONG)
      const notBig = fc.oneof(
        fc.integer(),
        fc.double({ noInteger: true }),
        wideBig({ min: -(1n << 70n), max: -1n }),
        fc.constantFrom<unknown>('0x1000', null, undefined, {}, Number.NaN),
      )
      const pteFns = [
        'ptePfn',
        'ptePresent',
        'pteNone',
        'pteFile',
        'pteYoung',
        'pteDirty',
        'pteWrite',
        'pteToPgoff',
      ]
      const addrFns = ['pgdIndex', 'pmdIndex', 'pteIndex'] as const
      const call = (fn: string, v: unknown) => () =>
        (arch as unknown as Record<string, (x: unknown) => unknown>)[fn]!(v)
      fc.assert(
        fc.property(notBig, (v) => {
          for (const fn of pteFns) expectLimit(arch, call(fn, v), { fn, argument: 'pte' })
          for (const fn of addrFns) expectLimit(arch, call(fn, v), { fn, argument: 'addr' })
          expectLimit(arch, () => arch.mkPte(v as bigint, 0n), { fn: 'mkPte', argument: 'pfn' })
          expectLimit(arch, () => arch.mkPte(0n, v as bigint), { fn: 'mkPte', argument: 'prot' })
          expectLimit(arch, () => arch.swpEntryToPte(0, v as bigint), {
            fn: 'swpEntryToPte',
            argument: 'offset',
          })
          expectLimit(arch, () => arch.pgoffToPte(v as bigint), { fn: 'pgoffToPte', argument: 'pgoff' })
          expectLimit(arch, () => arch.pteToSwpEntry(v as bigint), { fn: 'pteToSwpEntry', argument: 'pte' })
        }),
        ctx.fcParams,
      )
      for (const fn of pteFns) expectLimit(arch, call(fn, pteLimit), { fn, argument: 'pte' })
      for (const fn of addrFns) expectLimit(arch, call(fn, addrLimit), { fn, argument: 'addr' })
      expectLimit(arch, () => arch.pteToSwpEntry(pteLimit), { fn: 'pteToSwpEntry', argument: 'pte' })
    },
  },
  {
    id: 'lim.bug',
    layer: L,
    cite: generic('docs/layouts.md#swap-entries pte_to_swp_entry BUG() on pte_file'),
    title: 'pte_to_swp_entry of a file pte is the kernel BUG (KernelBugError), not a swap entry',
    run(ctx) {
      const { arch } = ctx
      fc.assert(
        fc.property(wideBig({ min: 0n, max: (1n << BigInt(arch.geometry.PTE_FILE_MAX_BITS)) - 1n }), (p) =>
          expectBug(() => arch.pteToSwpEntry(arch.pgoffToPte(p)), 'pte_to_swp_entry'),
        ),
        ctx.fcParams,
      )
    },
  },
  // --- fast form --------------------------------------------------------------
  {
    id: 'fast.mkpte',
    layer: L,
    cite: (c) => sec(c, 'pfn placement'),
    title: 'fast mkPteLo/mkPteHi and pfn agree with mkPte/ptePfn on random pfns and every user protection',
    run(ctx) {
      const { arch } = ctx
      const f = arch.fast
      fc.assert(
        fc.property(
          wideBig({ min: 0n, max: minBig(arch.geometry.MAX_PTE_PFN, MAX_SAFE) }),
          fc.constantFrom(...userProts(arch)),
          (pfn, prot) => {
            const pte = arch.mkPte(pfn, prot)
            const lo = f.mkPteLo(Number(pfn), lo32(prot))
            const hi = f.mkPteHi(Number(pfn), lo32(prot))
            expect(hex(join(lo, hi))).toBe(hex(pte))
            expect(f.pfn(lo, hi)).toBe(Number(pfn))
            expect(f.present(lo, hi)).toBe(true)
          },
        ),
        ctx.fcParams,
      )
    },
  },
  {
    id: 'fast.predicates',
    layer: L,
    cite: (c) => sec(c, 'Predicates'),
    title:
      'fast pfn/present/none/file and the YOUNG/DIRTY/WRITE masks agree with the bigint predicates on any pte',
    run(ctx) {
      const { arch } = ctx
      const f = arch.fast
      const full = fc.bigInt({ min: 0n, max: (1n << BigInt(arch.geometry.PTE_BITS)) - 1n })
      // fast-check favours small values; the unbiased branch keeps both words of a
      // 64-bit pte busy, so a predicate that reads the wrong word is caught.
      const anyPte = fc.oneof(full, fc.noBias(full), wideBig({ min: 0n, max: 0xffffn }))
      fc.assert(
        fc.property(anyPte, (pte) => {
          const lo = lo32(pte)
          const hi = hi32(pte)
          expect({
            pfn: f.pfn(lo, hi),
            present: f.present(lo, hi),
            none: f.none(lo, hi),
            file: f.file(lo, hi),
            young: (lo & f.YOUNG) !== 0,
            dirty: (lo & f.DIRTY) !== 0,
            write: (lo & f.WRITE) !== 0,
          }).toEqual({
            pfn: Number(arch.ptePfn(pte)),
            present: arch.ptePresent(pte),
            none: arch.pteNone(pte),
            file: arch.pteFile(pte),
            young: arch.pteYoung(pte),
            dirty: arch.pteDirty(pte),
            write: arch.pteWrite(pte),
          })
        }),
        ctx.fcParams,
      )
    },
  },
  {
    id: 'fast.swp',
    layer: L,
    cite: generic('docs/layouts.md#swap-entries generic swap entry'),
    title: 'fast swpLo/swpHi/swpType/swpOffset agree with the bigint swap surface',
    run(ctx) {
      const { arch } = ctx
      const f = arch.fast
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: MAX_SWAPFILES - 1 }),
          wideBig({ min: 0n, max: minBig(arch.geometry.SWP_OFFSET_MAX, MAX_SAFE) }),
          (type, offset) => {
            const pte = arch.swpEntryToPte(type, offset)
            const lo = f.swpLo(type, Number(offset))
            const hi = f.swpHi(type, Number(offset))
            expect(hex(join(lo, hi))).toBe(hex(pte))
            expect({ type: f.swpType(lo, hi), offset: f.swpOffset(lo, hi) }).toEqual({
              type,
              offset: Number(offset),
            })
          },
        ),
        ctx.fcParams,
      )
    },
  },
  {
    id: 'fast.pgoff',
    layer: L,
    cite: (c) => sec(c, 'Nonlinear file pte'),
    title: 'fast pgoffLo/pgoffHi/pgoff agree with pgoffToPte/pteToPgoff',
    run(ctx) {
      const { arch } = ctx
      const f = arch.fast
      const max = minBig((1n << BigInt(arch.geometry.PTE_FILE_MAX_BITS)) - 1n, MAX_SAFE)
      fc.assert(
        fc.property(wideBig({ min: 0n, max }), (pgoff) => {
          const pte = arch.pgoffToPte(pgoff)
          const lo = f.pgoffLo(Number(pgoff))
          const hi = f.pgoffHi(Number(pgoff))
          expect(hex(join(lo, hi))).toBe(hex(pte))
          expect(f.pgoff(lo, hi)).toBe(Number(pgoff))
          expect(f.file(lo, hi)).toBe(true)
        }),
        ctx.fcParams,
      )
    },
  },
  {
    id: 'fast.index',
    layer: L,
    cite: (c) => sec(c, 'Index formulas'),
    title: 'fast pgd/pmd/pte indices agree with the bigint ones on user addresses below TASK_SIZE',
    run(ctx) {
      const { arch } = ctx
      const f = arch.fast
      fc.assert(
        fc.property(wideBig({ min: 0n, max: arch.geometry.TASK_SIZE - 1n }), (a) => {
          const n = Number(a)
          expect([f.pgdIndex(n), f.pmdIndex(n), f.pteIndex(n)]).toEqual([
            arch.pgdIndex(a),
            arch.pmdIndex(a),
            arch.pteIndex(a),
          ])
        }),
        ctx.fcParams,
      )
    },
  },
  {
    id: 'fast.vectors',
    layer: L,
    cite: generic('docs/layouts.md#the-test-vectors vector files'),
    title: 'the fast form gives the published mk_pte, swp, pgoff and user index rows',
    needs: needFixture,
    run(ctx) {
      const { arch } = ctx
      const f = arch.fast
      const fixture = fx(ctx)
      for (const r of fixture.mk_pte) {
        if (r.pfn_back !== r.pfn || h(r.pfn) > MAX_SAFE) continue
        const p = lo32(h(r.prot_val))
        const pte = h(r.pte)
        expect(hex(join(f.mkPteLo(Number(h(r.pfn)), p), f.mkPteHi(Number(h(r.pfn)), p))), r.pfn).toBe(
          hex(pte),
        )
        expect(f.pfn(lo32(pte), hi32(pte)), r.pte).toBe(Number(h(r.pfn_back)))
      }
      for (const r of fixture.swp) {
        if (h(r.back.offset) !== h(r.offset)) continue
        const o = Number(h(r.offset))
        expect(hex(join(f.swpLo(r.type, o), f.swpHi(r.type, o))), `swp ${r.type} ${r.offset}`).toBe(
          hex(h(r.pte)),
        )
      }
      for (const r of fixture.pgoff) {
        const pte = h(r.pte)
        expect(f.pgoff(lo32(pte), hi32(pte)), r.pte).toBe(Number(h(r.back)))
        if (h(r.back) !== h(r.pgoff)) continue
        const o = Number(h(r.pgoff))
        expect(hex(join(f.pgoffLo(o), f.pgoffHi(o))), `pgoff ${r.pgoff}`).toBe(hex(pte))
      }
      for (const r of fixture.index) {
        if (h(r.addr) >= arch.geometry.TASK_SIZE) continue
        const a = Number(h(r.addr))
        expect([f.pgdIndex(a), f.pmdIndex(a), f.pteIndex(a)], r.addr).toEqual([r.pgd, r.pmd, r.pte])
      }
    },
  },
]
