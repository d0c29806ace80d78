/**
 * Writes schema/workload.schema.json from the zod schemas (`pnpm --filter
 * @rmaplab/cli run schema`), formatted as biome formats JSON in this
 * repository. The file is checked in and published; a test fails when it is
 * out of date.
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { workloadJsonSchema } from '@rmaplab/workload'

/** The schema as JSON text. */
export function schemaText(): string {
  return `${JSON.stringify(workloadJsonSchema(), null, 2)}\n`
}

const out = fileURLToPath(new URL('../schema/workload.schema.json', import.meta.url))
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(out, schemaText())
  const biome = createRequire(import.meta.url).resolve('@biomejs/biome/bin/biome')
  execFileSync(process.execPath, [biome, 'format', '--write', out], { stdio: 'ignore' })
  console.log(`wrote ${out}`)
}
