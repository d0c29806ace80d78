import type { Arch, KernelProfile } from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import {
  type ArchFixture,
  checkIdOf,
  conformanceLabel,
  conformanceManifest,
  DESIGN_INDEPENDENT,
  expectationSuffix,
  FIXTURES,
  META_EXPECTATIONS_ID,
  runConformance,
  SUITE_PREFIX,
  suiteLabelOf,
  VM_SCENARIO_CHECKS,
} from '../src/index.js'

/** Just the parts the manifest reads: name, capabilities, pgtable flags, MMU kind, profiles. */
function stub(
  name: string,
  opts: {
    highpte?: boolean
    kmaps?: boolean
    hash?: boolean
    early?: boolean
    profiles?: KernelProfile[]
  } = {},
): Arch {
  const hash = opts.hash ?? false
  return {
    name,
    capabilities: { wordPtes: false, highpte: opts.highpte ?? false, ptepToMmAddress: hash, hashMmu: hash },
    pgtable: {
      highpte: opts.highpte ?? false,
      pteOffsetMapKmaps: opts.kmaps ?? opts.highpte ?? false,
      brokenPteAllocOneEarly: opts.early ?? false,
      tagsPtePages: hash,
      pgdPreallocPmds: 0,
    },
    mmu: { kind: hash ? 'hash' : 'tlb' },
    profiles: opts.profiles ?? ['2.6.5-aa', '2.6.7', '2.6.4'],
  } as unknown as Arch
}

const byId = (arch: Arch, options = {}) => new Map(conformanceManifest(arch, options).map((c) => [c.id, c]))

describe('capability manifest', () => {
  it('gates the kmap, highpte, hash and pte-tag groups on capabilities and pgtable flags', () => {
    const plain = byId(stub('i386'))
    expect(plain.get('pt.kmap.none')?.applicable).toBe(true)
    expect(plain.get('pt.kmap.nesting')).toMatchObject({
      applicable: false,
      reason: 'pgtable.pteOffsetMapKmaps is false',
    })
    expect(plain.get('pt.highpte')).toMatchObject({
      applicable: false,
      reason: 'capabilities.highpte is false',
    })
    expect(plain.get('mmu.hash.hashpte')?.applicable).toBe(false)
    expect(plain.get('pt.ptep-to-mm[2.6.5-aa]')?.applicable).toBe(false)
    expect(plain.get('pt.early-boot[2.6.4]')?.applicable).toBe(false)

    const pae = byId(stub('i386-pae', { highpte: true }))
    expect(pae.get('pt.kmap.nesting')?.applicable).toBe(true)
    expect(pae.get('pt.kmap.none')?.applicable).toBe(false)
    expect(pae.get('pt.highpte')?.applicable).toBe(true)

    const ppc = byId(stub('ppc', { hash: true, kmaps: true, early: true }))
    for (const id of [
      'mmu.hash.hashpte',
      'pt.ptep-to-mm[2.6.7]',
      'pt.early-boot[2.6.4]',
      'pt.kmap.nesting',
    ]) {
      expect(ppc.get(id)?.applicable, id).toBe(true)
    }
    expect(ppc.has('pt.early-boot[2.6.7]'), 'the early-boot rule is a 2.6.4-2.6.6 rule').toBe(false)
  })

  it('uses the shipped fixture by arch name, options.fixtures otherwise, and says when there is none', () => {
    const none = byId(stub('toy'))
    expect(none.get('enc.mkpte.vectors')).toMatchObject({ applicable: false })
    expect(none.get('enc.mkpte.vectors')?.reason).toContain('no fixture')
    expect(none.get('prop.pfn.roundtrip')?.applicable, 'properties need no fixture').toBe(true)
    expect(none.get('enc.mkpte.vectors')?.cite).toBe('vectors pfn placement')

    const { facts: _facts, ...vectorsOnly } = FIXTURES['i386']!
    const given = byId(stub('toy'), { fixtures: vectorsOnly })
    expect(given.get('enc.mkpte.vectors')?.applicable).toBe(true)
    expect(given.get('enc.protmap')?.reason).toContain('no facts')

    expect(byId(stub('i386')).get('enc.mkpte.vectors')?.cite).toBe('docs/layouts.md#i386 pfn placement')
    expect(byId(stub('ppc64')).get('enc.mkpte.vectors')?.cite).toBe('docs/layouts.md#ppc64 pfn placement')
    // PAE has no row past the largest pfn, so its truncation check does not apply.
    expect(byId(stub('i386-pae')).get('enc.mkpte.truncation')?.applicable).toBe(false)
  })

  it('registers per-profile checks for the selected profiles the arch supports', () => {
    const selected = byId(stub('i386'), { profiles: ['2.6.7'] })
    expect(selected.get('pt.count.user[2.6.7]')?.applicable).toBe(true)
    expect(selected.get('pt.count.user[2.6.4]')?.reason).toBe('profile 2.6.4 not selected (options.profiles)')
    const limited = byId(stub('i386', { profiles: ['2.6.5-aa'] }))
    expect(limited.get('pt.count.user[2.6.7]')?.reason).toBe('the arch does not support profile 2.6.7')
  })

  it('names every test "<id>: [<cite>] <title>" with a unique, stable id', () => {
    for (const name of Object.keys(FIXTURES)) {
      const m = conformanceManifest(
        stub(name, { hash: name.startsWith('ppc'), early: name.startsWith('ppc') }),
      )
      const ids = m.map((c) => c.id)
      expect(new Set(ids).size).toBe(ids.length)
      for (const c of m) {
        expect(c.id).toMatch(/^[a-z]+(\.[a-z0-9-]+)+(\[[0-9a-z.-]+\])?$/)
        expect(c.name).toBe(`${c.id}: [${c.cite}] ${c.title}`)
        expect(checkIdOf(c.name)).toBe(c.id)
      }
    }
  })

  it('records expectations as expected failures (default) or skips, and flags unknown ids', () => {
    const m = byId(stub('i386'), {
      expectations: {
        'enc.bits': 'waiting for 2.6.6 _PAGE_UNUSED bits',
        'enc.prot': { reason: 'x', mode: 'skip' },
      },
    })
    expect(m.get('enc.bits')?.expectation).toEqual({
      reason: 'waiting for 2.6.6 _PAGE_UNUSED bits',
      mode: 'fail',
    })
    expect(m.get('enc.prot')?.expectation).toEqual({ reason: 'x', mode: 'skip' })
    expect(expectationSuffix('fail', 'r')).toBe(' [expected failure: r]')
    expect(expectationSuffix('skip', 'r')).toBe(' [skipped: r]')

    const meta = (expectations: Record<string, string>) =>
      runConformance(stub('toy'), { expectations }).find((o) => o.id === META_EXPECTATIONS_ID)
    expect(meta({ 'enc.bits': 'r', 'pt.count.user[2.6.4]': 'r' })?.status).toBe('pass')
    const bad = meta({ 'enc.bitz': 'typo' })
    expect(bad?.status).toBe('fail')
    expect(bad?.detail).toContain('enc.bitz')
  })

  it('runs only the whole-VM layer under a design other than objrmap, labelled <arch>/<design>', () => {
    const arch = stub('i386')
    const obj = conformanceManifest(arch)
    const ptc = conformanceManifest(arch, { rmap: 'pte_chains' })
    expect(ptc.map((c) => c.id)).toEqual(obj.map((c) => c.id))
    for (const c of ptc) {
      const o = obj.find((x) => x.id === c.id)!
      if (c.layer === 'whole VM' || c.layer === 'meta') expect(c.applicable, c.id).toBe(o.applicable)
      else
        expect({ applicable: c.applicable, reason: c.reason }, c.id).toEqual({
          applicable: false,
          reason: DESIGN_INDEPENDENT,
        })
    }
    expect(ptc.filter((c) => c.layer === 'whole VM').length).toBeGreaterThan(30)
    expect([
      conformanceLabel(arch),
      conformanceLabel(arch, { rmap: 'objrmap' }),
      conformanceLabel(arch, { rmap: 'anonmm' }),
      conformanceLabel(arch, { rmap: 'anonmm', label: 'mine' }),
    ]).toEqual(['i386', 'i386', 'i386/anonmm', 'mine'])
  })

  it('reports not-applicable checks with their reason from runConformance', () => {
    const out = runConformance(stub('toy'))
    expect(out.find((o) => o.id === 'pt.highpte')).toEqual({
      id: 'pt.highpte',
      status: 'n/a',
      detail: 'capabilities.highpte is false',
    })
  })

  it('runs only the checks options.only names, a per-profile check by its base id, and refuses an unknown id', () => {
    const out = runConformance(stub('toy'), { only: ['pt.highpte', 'pt.count.user'] })
    expect(out.map((o) => o.id).sort()).toEqual([
      'pt.count.user[2.6.4]',
      'pt.count.user[2.6.5-aa]',
      'pt.count.user[2.6.7]',
      'pt.highpte',
    ])
    expect(() => runConformance(stub('toy'), { only: ['pt.hihgpte'] })).toThrow(/pt\.hihgpte/)
  })

  it('registers the whole-VM layer: vm.* ids citing their scenario, vm.h2 per profile, gated on a TASK_SIZE the VM can address', () => {
    const toy = (TASK_SIZE: bigint) => ({ ...stub('toy'), geometry: { TASK_SIZE } }) as unknown as Arch
    const m = byId(toy(0x80000000n))
    const vm = conformanceManifest(toy(0x80000000n)).filter((c) => c.id.startsWith('vm.'))
    expect(vm.every((c) => c.layer === 'whole VM' && c.applicable)).toBe(true)
    for (const id of [
      'vm.a1',
      'vm.a3',
      'vm.b1',
      'vm.d1',
      'vm.d4',
      'vm.fork-tree',
      'vm.exec',
      'vm.errno.mmap',
    ])
      expect(m.has(id), id).toBe(true)
    expect(m.get('vm.a1')?.cite).toBe(
      'docs/scenarios.md#a1; docs/designs.md#objrmap-and-anon_vma do_wp_page, fork',
    )
    // Every published scenario, swap-out included (vm-swap.ts), in scenario order, each citing its scenario.
    const scenarios = vm.map((c) => c.id).filter((id) => /^vm\.[a-z]\d/.test(id))
    expect(scenarios).toEqual([
      'vm.a1',
      'vm.a3',
      'vm.a6',
      'vm.b1',
      'vm.b2',
      'vm.b3',
      'vm.b4',
      'vm.c1',
      'vm.c1.swap',
      'vm.c3',
      'vm.c3.swap',
      'vm.c7',
      'vm.c8',
      'vm.d1',
      'vm.d2',
      'vm.d4',
      'vm.d4.file',
      'vm.e1',
      'vm.e1.swap',
      'vm.e2',
      'vm.e3',
      'vm.f2',
      'vm.f4',
      'vm.g2',
      'vm.h2[2.6.5-aa]',
      'vm.h2[2.6.7]',
      'vm.h2[2.6.4]',
    ])
    expect(VM_SCENARIO_CHECKS).toEqual(scenarios)
    for (const c of vm.filter((c) => scenarios.includes(c.id))) {
      const letter = c.id.slice(3, 5).toUpperCase()
      expect(c.cite, c.id).toMatch(new RegExp(`^docs/scenarios\\.md#${letter.toLowerCase()}\\b`))
      expect(c.cite, `${c.id} cites a kernel fact too`).toMatch(/; /)
    }
    expect(m.get('vm.a6')?.title).toContain(
      "-aa's try_to_unmap returns SWAP_AGAIN for an anon page not in swap cache",
    )
    expect(vm.filter((c) => c.id.startsWith('vm.h2')).map((c) => c.id)).toEqual([
      'vm.h2[2.6.5-aa]',
      'vm.h2[2.6.7]',
      'vm.h2[2.6.4]',
    ])
    expect(byId(toy(0x80000000n), { profiles: ['2.6.7'] }).get('vm.h2[2.6.4]')?.applicable).toBe(false)
    expect(byId(toy(1n << 53n)).get('vm.a1')?.applicable, 'user space up to 2^53 is addressable').toBe(true)
    expect(byId(toy(1n << 64n)).get('vm.a1')).toMatchObject({
      applicable: false,
      reason: 'TASK_SIZE above 2^53: the VM takes user addresses as numbers',
    })
    expect(byId(stub('toy')).get('vm.exec')?.reason).toBe('the arch has no geometry.TASK_SIZE')
  })

  it('parses the suite label of the top-level describe block', () => {
    expect(suiteLabelOf(`${SUITE_PREFIX}i386-pae`)).toBe('i386-pae')
    expect(suiteLabelOf('something else')).toBeUndefined()
  })
})

describe('shipped fixtures', () => {
  const hex = /^0x[0-9a-f]+$/
  it.each(Object.entries(FIXTURES))(
    '%s: every number parses and every fact is complete',
    (name, f: ArchFixture) => {
      expect(f.arch).toBe(name.replace('-pae', ''))
      expect(f.facts).toBeDefined()
      const facts = f.facts!
      for (const v of [...Object.values(f.bits), ...Object.values(f.prot)]) expect(v).toMatch(hex)
      for (const v of Object.values(f.constants)) expect(typeof v === 'number' || hex.test(v)).toBe(true)
      for (const table of [f.mk_pte, f.swp, f.pgoff, f.index, f.ptep_to_address])
        expect(table.length).toBeGreaterThan(5)
      for (const row of f.mk_pte)
        expect(f.prot[row.prot], `${row.prot} is a listed protection`).toBe(row.prot_val)
      for (const m of [facts.protectionMap.private, facts.protectionMap.shared]) {
        expect(m).toHaveLength(8)
        for (const p of m) expect(f.prot[p], `${p} is a listed protection`).toBeDefined()
      }
      for (const v of [facts.MAX_PTE_PFN, facts.SWP_OFFSET_MAX, facts.pteNoneIgnores, facts.pmdEntry.flags]) {
        expect(v).toMatch(hex)
      }
      expect(BigInt(facts.SWP_OFFSET_MAX) - 1n).toBe(BigInt(f.constants['SWAP_MAXPAGES_LIMIT']!))
      expect(facts.levels === 3).toBe(facts.pgdEntry !== undefined)
      expect(facts.section).toMatch(/^#(?:i386|i386-pae|ppc|ppc64)$/)
    },
  )
})
