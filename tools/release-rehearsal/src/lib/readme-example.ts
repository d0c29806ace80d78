import { transformSync } from 'esbuild'

/** The ```ts code blocks of a README that import one of our packages. */
export function exampleBlocks(markdown: string): string[] {
  const blocks: string[] = []
  for (const match of markdown.matchAll(/^```ts\n([\s\S]*?)^```/gm)) {
    const code = match[1] ?? ''
    if (/from '@rmaplab\//.test(code)) blocks.push(code)
  }
  return blocks
}

/** A value literal at the start of a trailing comment: `// 0x1234n: …`, `// 1023`, `// true; …`. */
const CLAIM = /^(.*?\S)\s+\/\/\s*(-?0x[0-9a-fA-F]+n|-?\d+n?|true|false)(?=$|[\s:;,.)])/

/**
 * Turns a README example into a checked script: each expression statement whose
 * trailing comment starts with a value (`ppc64.pgdIndex(a) // 1023: …`) becomes
 * a check that the expression evaluates to exactly that value (bigint stays
 * bigint). Declarations, imports and comments that do not start with a value
 * are left alone. Returns TypeScript.
 */
export function withClaimsChecked(block: string): { code: string; claims: number } {
  let claims = 0
  const lines = block.split('\n').map((line) => {
    const match = CLAIM.exec(line)
    if (!match) return line
    const expr = match[1] ?? ''
    const value = match[2] ?? ''
    if (/^\s*(import|export|const|let|var|type|interface|function|class|return|\/\/)\b/.test(expr))
      return line
    if (expr.includes('//') || /[=;{}]\s*$/.test(expr)) return line
    claims++
    const indent = /^\s*/.exec(expr)?.[0] ?? ''
    return `${indent}__claim(${expr.trim()}, ${value}, ${JSON.stringify(line.trim())})`
  })
  return { code: lines.join('\n'), claims }
}

const PRELUDE = `
const __failures = []
let __claims = 0
const __show = (v) => (typeof v === 'bigint' ? \`\${v}n (0x\${v.toString(16)}n)\` : typeof v === 'number' ? \`\${v} (0x\${v.toString(16)})\` : String(v))
function __claim(actual, expected, line) {
  __claims++
  if (!Object.is(actual, expected)) __failures.push(\`  \${line}\\n    evaluates to \${__show(actual)}\`)
}
`
const EPILOGUE = `
if (__failures.length > 0) {
  console.error(\`README claims that do not hold (\${__failures.length} of \${__claims}):\\n\${__failures.join('\\n')}\`)
  process.exit(1)
}
console.log(\`README example ran; \${__claims} claims hold\`)
`

/** A README example block as a plain ES module for `node`: types stripped, claims checked. */
export function exampleScript(block: string): { js: string; claims: number } {
  const { code, claims } = withClaimsChecked(block)
  const { code: js } = transformSync(code, { loader: 'ts', format: 'esm', target: 'node20' })
  // Import declarations are hoisted wherever they stand in a module, so the prelude can go first.
  return { js: PRELUDE + js + EPILOGUE, claims }
}
